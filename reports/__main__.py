"""`python -m reports <run>`: rebuild a results folder's report (see reports.cli)."""

from reports.cli import main

raise SystemExit(main())
