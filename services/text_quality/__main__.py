"""python -m services.text_quality: serve until SIGTERM (settings from XCLOUD_TEXT_QUALITY_*)."""
from services.runtime.main import serve
from services.text_quality.app import TextQualityApp
from services.text_quality.settings import TextQualitySettings


def main() -> None:
    serve(TextQualityApp, TextQualitySettings)


if __name__ == "__main__":
    main()
