"""python -m services.expression: serve until SIGTERM (settings from XCLOUD_EXPRESSION_*)."""
import asyncio

from services.expression.app import ExpressionApp
from services.expression.settings import ExpressionSettings
from services.runtime.server import configure_logging, serve_until_signal


def main() -> None:
    settings = ExpressionSettings()
    configure_logging(settings.log_level, "expression")
    asyncio.run(serve_until_signal(ExpressionApp(settings), settings))


if __name__ == "__main__":
    main()
