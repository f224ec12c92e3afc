from hostcheck._cli import main

raise SystemExit(main())
