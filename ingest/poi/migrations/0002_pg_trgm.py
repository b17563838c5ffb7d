from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations


class Migration(migrations.Migration):
    """pg_trgm (a trusted extension: the database owner may create it) prefilters name pairs
    in the duplicate check before the exact, Chinese-aware comparison in Python."""

    dependencies = [("poi", "0001_initial")]
    operations = [TrigramExtension()]
