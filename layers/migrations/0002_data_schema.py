from django.conf import settings
from django.db import migrations
from psycopg import sql


def create_schema(apps, schema_editor):
    # Layer tables live apart from Django's own tables (see docs/architecture.md).
    with schema_editor.connection.cursor() as cursor:
        cursor.cursor.execute(
            sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(settings.GEOPLATFORM["DATA_SCHEMA"]))
        )


class Migration(migrations.Migration):
    dependencies = [("layers", "0001_initial")]
    operations = [migrations.RunPython(create_schema, migrations.RunPython.noop)]
