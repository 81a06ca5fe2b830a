"""`python -m panopticon.cli.main`."""

from panopticon.cli.main import main

raise SystemExit(main())
