"""python -m credenza and the `credenza` console script: the agent fast path first, then the CLI."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    from credenza.agent.client import try_agent

    code = try_agent(args)
    if code is not None:
        return code
    from credenza.cli import run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
