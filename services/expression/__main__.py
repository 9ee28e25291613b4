"""python -m services.expression: serve until SIGTERM (settings from XCLOUD_EXPRESSION_*)."""
from services.expression.app import ExpressionApp
from services.expression.settings import ExpressionSettings
from services.runtime.main import serve


def main() -> None:
    serve(ExpressionApp, ExpressionSettings)


if __name__ == "__main__":
    main()
