"""Benchmark: ``runlayer-tf pins check`` vs a plain python-hcl2 ``loads`` of every file.

Run on demand (not a test)::

    .venv/bin/python benchmarks/pins_check.py [--files 2000] [--runs 3]

Generates a tree of realistic ``.tf`` files (security groups, IAM, RDS, ECS
services, ALB, variables, outputs; about 3.5 KB each) where about 5% hold
pins (ECS task definitions with jsonencode/heredoc images, tfvars with
version variables).  Each run times, as separate processes and interleaved,
``runlayer-tf pins check TREE`` and a Python process that ``hcl2.loads`` every
file; the medians are reported.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

R = "170974506510.dkr.ecr.us-east-1.amazonaws.com"

SG = """resource "aws_security_group" "{name}" {{
  name        = "{name}-{env}"
  description = "Allow HTTPS from the load balancer to {name}"
  vpc_id      = var.vpc_id

  ingress {{
    description     = "HTTPS from ALB"
    from_port       = 443
    to_port         = 443
    protocol        = "tcp"
    security_groups = [aws_security_group.alb.id]
  }}

  egress {{
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }}

  tags = merge(local.common_tags, {{ Name = "{name}-{env}", Service = "{name}" }})
}}
"""
IAM = """data "aws_iam_policy_document" "{name}_assume" {{
  statement {{
    actions = ["sts:AssumeRole"]
    principals {{
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }}
  }}
}}

resource "aws_iam_role" "{name}" {{
  name               = "{name}-task-{env}"
  assume_role_policy = data.aws_iam_policy_document.{name}_assume.json
}}

resource "aws_iam_role_policy" "{name}" {{
  name = "{name}-s3-{env}"
  role = aws_iam_role.{name}.id
  policy = jsonencode({{
    Version = "2012-10-17"
    Statement = [{{
      Effect   = "Allow"
      Action   = ["s3:GetObject", "s3:PutObject", "s3:ListBucket"]
      Resource = ["arn:aws:s3:::{name}-{env}", "arn:aws:s3:::{name}-{env}/*"]
    }}]
  }})
}}
"""
RDS = """resource "aws_rds_cluster" "{name}" {{
  cluster_identifier           = "{name}-{env}"
  engine                       = "aurora-postgresql"
  engine_version               = "15.4"
  database_name                = "app"
  master_username              = "postgres"
  backup_retention_period      = 7
  preferred_maintenance_window = "sun:05:00-sun:06:00"
  storage_encrypted            = true
  deletion_protection          = var.environment == "production"
  vpc_security_group_ids       = [aws_security_group.{name}.id]
  db_subnet_group_name         = aws_db_subnet_group.main.name
}}
"""
SERVICE = """resource "aws_ecs_service" "{name}" {{
  name            = "{name}-service"
  cluster         = aws_ecs_cluster.main.id
  task_definition = aws_ecs_task_definition.{name}.arn
  desired_count   = var.desired_count
  launch_type     = "FARGATE"

  network_configuration {{
    subnets         = var.private_subnet_ids
    security_groups = [aws_security_group.{name}.id]
  }}

  load_balancer {{
    target_group_arn = aws_lb_target_group.{name}.arn
    container_name   = "{name}"
    container_port   = 8000
  }}
}}

resource "aws_lb_target_group" "{name}" {{
  name        = "{name}-{env}"
  port        = 8000
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = var.vpc_id

  health_check {{
    path                = "/api/v1/utils/health-check/"
    healthy_threshold   = 2
    unhealthy_threshold = 3
    interval            = 30
  }}
}}
"""
VARS = """variable "{name}_desired_count" {{
  description = "How many {name} tasks to run"
  type        = number
  default     = 2
}}

output "{name}_url" {{
  description = "Public URL of {name}"
  value       = "https://${{aws_lb.main.dns_name}}/{name}"
}}
"""
TASK = """resource "aws_ecs_task_definition" "{name}" {{
  family                   = "{name}-{env}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = 1024
  memory                   = 2048
  execution_role_arn       = aws_iam_role.{name}.arn

  container_definitions = jsonencode([
    {{
      name      = "{name}"
      image     = "{registry}/{name}-{env}:${{var.{name}_version}}"
      essential = true
      portMappings = [{{ containerPort = 8000 }}]
    }},
    {{
      name  = "log-router"
      image = "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.2"
    }}
  ])
}}

variable "{name}_version" {{
  type    = string
  default = "v1.{minor}.{patch}"
}}
"""
TFVARS = """region              = "us-east-1"
environment         = "{env}"
{name}_version = "v1.{minor}.{patch}" # pinned
desired_count       = 2
"""
KINDS = [SG, IAM, RDS, SERVICE, VARS]


def generate(root: Path, files: int, seed: int = 7) -> tuple[int, int]:
    """Write ``files`` files under ``root``; returns (total bytes, files with pins)."""
    rng = random.Random(seed)
    total = pinned = 0
    for i in range(files):
        env = rng.choice(["staging", "production", "dev"])
        name = f"svc{i:04d}"
        directory = root / f"stack{i // 40:02d}"
        directory.mkdir(parents=True, exist_ok=True)
        fields = {
            "name": name,
            "env": env,
            "registry": R,
            "minor": rng.randint(0, 9),
            "patch": rng.randint(0, 9),
        }
        if i % 20 == 0:
            pinned += 1
            if i % 40 == 0:
                path, text = directory / f"{env}.tfvars", TFVARS.format(**fields)
            else:
                path, text = (
                    directory / f"{name}_task.tf",
                    TASK.format(**fields) + SG.format(**fields),
                )
        else:
            blocks = rng.sample(KINDS, k=4)
            text = "\n".join(b.format(**fields) for b in blocks)
            text += "\n".join(
                b.format(**{**fields, "name": name + "b"}) for b in rng.sample(KINDS, k=2)
            )
            path = directory / f"{name}.tf"
        path.write_text(text)
        total += len(text.encode())
    return total, pinned


HCL2_LOADS = """
import sys, pathlib, hcl2
for path in sorted(pathlib.Path(sys.argv[1]).rglob("*")):
    if path.suffix in (".tf", ".tfvars"):
        hcl2.loads(path.read_text())
"""


def timed(argv: list[str], ok: tuple[int, ...]) -> float:
    start = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode not in ok:
        raise SystemExit(f"{argv[:3]} failed ({result.returncode}): {result.stderr.strip()}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    cli = str(Path(sys.executable).parent / "runlayer-tf")
    with tempfile.TemporaryDirectory(prefix="pins-bench-") as tmp:
        root = Path(tmp)
        total, pinned = generate(root, args.files)
        print(
            f"tree: {args.files} files, {total / 1e6:.1f} MB, {pinned} with pins ({pinned / args.files:.0%})"
        )
        from runlayer_tf.pins._finder import may_hold_pins

        kept = sum(may_hold_pins(p.read_bytes()) for p in root.rglob("*") if p.is_file())
        print(f"pre-scan keeps {kept} files for parsing")
        check_times, hcl2_times = [], []
        for run in range(args.runs):
            check_times.append(timed([cli, "pins", "check", str(root)], ok=(0, 1)))
            hcl2_times.append(timed([sys.executable, "-c", HCL2_LOADS, str(root)], ok=(0,)))
            print(
                f"run {run + 1}: pins check {check_times[-1]:.2f}s   hcl2.loads {hcl2_times[-1]:.2f}s"
            )
        check, hcl2 = statistics.median(check_times), statistics.median(hcl2_times)
        print(
            f"median: pins check {check:.2f}s   hcl2.loads {hcl2:.2f}s   ratio 1/{hcl2 / check:.1f}"
        )
        target = hcl2 / 20
        print(
            f"target (<= 1/20 of hcl2): {target:.2f}s -> {'met' if check <= target else 'NOT met'}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
