"""python -m services.animal_identity: serve until SIGTERM (settings from
XCLOUD_ANIMAL_IDENTITY_*)."""
from services.animal_identity.app import AnimalIdentityApp
from services.animal_identity.settings import AnimalIdentitySettings
from services.runtime.main import serve


def main() -> None:
    serve(AnimalIdentityApp, AnimalIdentitySettings)


if __name__ == "__main__":
    main()
