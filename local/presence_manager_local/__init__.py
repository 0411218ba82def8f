"""Local runtime of genesys-presence-manager: Genesys Cloud simulator, moto-backed AWS emulation, API emulator, CLI."""
