from runlayer_tf.cli import main

raise SystemExit(main())
