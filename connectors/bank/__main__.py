"""`python -m connectors.bank`: the bank import service (see `connectors.bank.service`)."""

import sys

from connectors.bank.service import main

sys.exit(main())
