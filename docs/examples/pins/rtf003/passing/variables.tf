variable "backend_version" {
  default = "v1.2.3"
}
