"""``python -m grace_kernel.kernel -f CONNECTION_FILE``: the "Python 3 (Grace)" kernel.

ipykernel with Grace loaded before the first cell.  Unlike ``--ext``, which
logs a failed extension and carries on ungoverned, a failure here leaves a
kernel that refuses every cell and says why.
"""

from __future__ import annotations

from typing import Any

from ipykernel.kernelapp import IPKernelApp


class GraceKernelApp(IPKernelApp):
    name = "grace-kernel"

    def init_extensions(self) -> None:
        super().init_extensions()
        from grace_kernel.kernel import load, load_failed_closed

        shell: Any = self.shell
        try:
            load(shell)
        except BaseException as exc:  # any failure must close the kernel's door
            load_failed_closed(shell, exc)


def main() -> None:
    GraceKernelApp.launch_instance()


if __name__ == "__main__":
    main()
