import sys

from fault_proxy.cli import main

sys.exit(main())
