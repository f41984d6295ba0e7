"""``python -m actionlab`` runs the command-line interface."""
from actionlab.cli import main

if __name__ == '__main__':
    raise SystemExit(main())
