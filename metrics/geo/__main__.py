"""`python -m metrics.geo`: see metrics.geo.cli."""

from metrics.geo.cli import main

raise SystemExit(main())
