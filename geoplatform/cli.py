"""The `geoplatform` console script: every Django management command, plus the platform's own.

`geoplatform demo-data` and `geoplatform demo_data` are the same command.
"""

import os
import sys

OVERVIEW = """\
geoplatform: open GIS spatial-data platform (Digital Bazhou / Digital Wuhai)

Platform commands:
  geoplatform serve [--host H] [--port P] [--workers N]   serve the platform (gunicorn + a job worker)
  geoplatform ingest PATH --layer SLUG [--mode create|append|replace|replace-sheet] [--srs CRS]
        [--encoding ENC] [--sheet ID] [--access LEVEL] [--department CODE] [--dry-run] [--report FILE]
                                                           load vector data (exit 0 loaded, 2 rejected, 1 error)
  geoplatform ingest history|sheets --layer SLUG           a layer's loads; survey date per map sheet
  geoplatform ingest rollback JOB                          restore the layers a load touched
  geoplatform worker                                       run queued web uploads
  geoplatform tiles seed --layer SLUG [--zoom 0-14] [--bbox …] [--raster] | tiles clear --layer SLUG   tile caches
  geoplatform layers list [--as USER] [--json]             the layer catalog (what USER may see)
  geoplatform layers show SLUG                             one layer's metadata and grants
  geoplatform layers grant SLUG DEPARTMENT LEVEL           grant view/download/edit/manage
  geoplatform layers revoke SLUG DEPARTMENT                remove a department's grant
  geoplatform layers set-access SLUG public|internal|restricted
  geoplatform departments list | create CODE NAME [--name-en N] | add-member CODE USER | remove-member CODE USER
  geoplatform token create USERNAME [--name N] [--expires-days D]   print a new API token
  geoplatform token list [USERNAME] | token revoke PREFIX
  geoplatform demo-data                                    load the bundled sample data (idempotent)

Every Django management command works too: geoplatform migrate, geoplatform shell -c '…',
geoplatform createsuperuser --noinput, … (`geoplatform help` lists them all;
`geoplatform help COMMAND` explains one).
"""


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geoplatform.settings")
    if len(argv) < 2 or argv[1] in {"-h", "--help"}:
        print(OVERVIEW)
        return
    argv[1] = argv[1].replace("-", "_") if not argv[1].startswith("-") else argv[1]
    from django.core.management import execute_from_command_line

    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
