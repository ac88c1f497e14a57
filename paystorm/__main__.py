import sys

from paystorm.cli import main

sys.exit(main())
