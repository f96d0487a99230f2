"""``python -m grace_kernel.cli``: the ``grace`` command without its console script."""

from grace_kernel.cli import main

main()
