"""python -m services.text_quality: serve until SIGTERM (settings from XCLOUD_TEXT_QUALITY_*)."""
import asyncio

from services.runtime.server import configure_logging, serve_until_signal
from services.text_quality.app import TextQualityApp
from services.text_quality.settings import TextQualitySettings


def main() -> None:
    settings = TextQualitySettings()
    configure_logging(settings.log_level, "text_quality")
    asyncio.run(serve_until_signal(TextQualityApp(settings), settings))


if __name__ == "__main__":
    main()
