from neurocc.cli import main; raise SystemExit(main())
