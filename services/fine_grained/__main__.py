"""python -m services.fine_grained: serve until SIGTERM (settings from XCLOUD_FINE_GRAINED_*)."""
from services.fine_grained.app import FineGrainedApp
from services.fine_grained.settings import FineGrainedSettings
from services.runtime.main import serve


def main() -> None:
    serve(FineGrainedApp, FineGrainedSettings)


if __name__ == "__main__":
    main()
