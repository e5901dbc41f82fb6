"""`python -m webhooks --port N [--host H] [--data-dir DIR]`: the receiver alone (as `smsetl webhook`)."""

import sys

from webhooks.cli import main

sys.exit(main())
