from hostcheck.cli.main import main

raise SystemExit(main())
