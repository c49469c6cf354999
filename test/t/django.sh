#!/usr/bin/env bash
# TAP: Django (Debian's python3-django and python3-psycopg2) on a guarded database,
# default settings, migrating as the database owner (not a superuser).
#  * a new project's first `migrate` (contrib apps and the app's first migration) passes;
#  * on tables with rows, each further migration in its own `migrate` run, as a team
#    ships them: AddField with a default passes; AddIndex is blocked and the error Django
#    prints carries the recipe; AddIndexConcurrently in a non-atomic migration passes;
#    AlterField widening max_length of an indexed and of a unique CharField passes;
#    RemoveField and RenameField are blocked, and pass with the documented acknowledgement
#    (RunSQL "SET LOCAL schema_guard.allow = ..." in the same atomic migration);
#    AddConstraint CHECK is blocked, NOT VALID + VALIDATE in two migrations passes;
#  * `manage.py test` with the extension in template1 builds its test database.
source "$(dirname "$0")/../../scripts/lib.sh"
source "$(dirname "$0")/../../scripts/tap.sh"
set +e
PY=/usr/bin/python3   # Debian's python: the one that sees python3-django
if ! "$PY" -c 'import django, psycopg2' 2>/dev/null; then
  echo "1..0 # SKIP python3-django / python3-psycopg2 not installed"; exit 0
fi
BASE=$SG_TMP/schema_guard_django
PORT=$(sg_port 54376)
DIR=$BASE/main
P=$BASE/project
on_exit :   # stops the cluster at exit
start_cluster "$DIR" "$PORT" "shared_preload_libraries = 'schema_guard'"
export PGHOST=$DIR/sock PGPORT=$PORT DJ_DB=djapp
q() { PGUSER=postgres "$PG_BIN/psql" -X -At -q "$@" 2>&1; }
q -d postgres <<'SQL'
CREATE ROLE django LOGIN CREATEDB;
CREATE DATABASE djapp OWNER django;
GRANT SET ON PARAMETER schema_guard.allow TO django;
\c djapp
CREATE EXTENSION schema_guard;
\c template1
CREATE EXTENSION schema_guard;
SQL

rm -rf "$P"; mkdir -p "$P/proj" "$P/shop/migrations"
cat >"$P/manage.py" <<'EOF'
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
from django.core.management import execute_from_command_line
execute_from_command_line(sys.argv)
EOF
touch "$P/proj/__init__.py" "$P/shop/__init__.py" "$P/shop/migrations/__init__.py"
echo "urlpatterns = []" >"$P/proj/urls.py"
cat >"$P/proj/settings.py" <<'EOF'
import os
SECRET_KEY = "schema_guard-test"
INSTALLED_APPS = ["django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
                  "django.contrib.sessions", "django.contrib.messages", "shop"]
MIDDLEWARE = ["django.contrib.sessions.middleware.SessionMiddleware",
              "django.contrib.auth.middleware.AuthenticationMiddleware",
              "django.contrib.messages.middleware.MessageMiddleware"]
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
              "OPTIONS": {"context_processors": ["django.template.context_processors.request",
                                                 "django.contrib.auth.context_processors.auth",
                                                 "django.contrib.messages.context_processors.messages"]}}]
ROOT_URLCONF = "proj.urls"
DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "NAME": os.environ["DJ_DB"], "USER": "django",
                         "HOST": os.environ["PGHOST"], "PORT": os.environ["PGPORT"]}}
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
EOF
cat >"$P/shop/tests.py" <<'EOF'
from django.test import TestCase
from django.db import connection

class GuardTest(TestCase):
    def test_guard_active_in_test_database(self):
        with connection.cursor() as cur:
            cur.execute("SELECT active FROM schema_guard.status()")
            self.assertTrue(cur.fetchone()[0])
EOF
# The models as they end up after the migrations below (makemigrations --check compares them).
cat >"$P/shop/models.py" <<'EOF'
from django.db import models

class Product(models.Model):
    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200, db_index=True)
    price = models.IntegerField()
    description = models.TextField(default="")
    stock = models.IntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["price"], name="product_price_idx")]
        constraints = [models.CheckConstraint(check=models.Q(price__gte=0), name="price_nonneg")]
EOF
mig() {  # mig NAME: write shop/migrations/NAME.py from stdin (the header is added)
  { echo "from django.db import migrations, models"; cat; } >"$P/shop/migrations/$1.py"
}
chmod -R a+rX "$BASE"
manage() { (cd "$P" && runuser -u postgres -- env PGHOST="$PGHOST" PGPORT="$PGPORT" DJ_DB="${DJ_DB}" "$PY" manage.py "$@" 2>&1); }
migrate() { manage migrate --no-input -v 1 shop "$@"; }
guard_error() { grep -m1 -o 'schema_guard: [a-z_]*' <<<"$1"; }

mig 0001_initial <<'EOF'
class Migration(migrations.Migration):
    initial = True
    dependencies = []
    operations = [
        migrations.CreateModel(name="Product", fields=[
            ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
            ("sku", models.CharField(max_length=32, unique=True)),
            ("name", models.CharField(max_length=100, db_index=True)),
            ("legacy_code", models.CharField(max_length=20, null=True)),
            ("price", models.IntegerField()),
            ("descr", models.TextField(default="")),
        ]),
    ]
EOF
out=$(manage migrate --no-input); rc=$?
ok "$rc|$(grep -c 'Applying' <<<"$out")|$(guard_error "$out")" "0|19|" \
   "a new project's first migrate (contrib apps and the app's first migration) passes"
ok "$(q -d djapp -c "SELECT count(*) FROM django_migrations")" "19" "every migration is recorded (18 of the contrib apps, 1 of the app)"
chmod -R a+rwX "$P"

# Another session fills the table: from here on the migrations meet a table with rows.
q -d djapp -c "INSERT INTO shop_product (sku, name, legacy_code, price, descr)
               SELECT 'sku' || g, 'product ' || g, 'L' || g, g % 100, 'd' FROM generate_series(1, 20000) g"

mig 0002_product_stock <<'EOF'
class Migration(migrations.Migration):
    dependencies = [("shop", "0001_initial")]
    operations = [migrations.AddField("product", "stock", models.IntegerField(default=0))]
EOF
out=$(migrate); ok "$?|$(guard_error "$out")" "0|" "AddField with a default passes"

mig 0003_product_price_idx <<'EOF'
class Migration(migrations.Migration):
    dependencies = [("shop", "0002_product_stock")]
    operations = [migrations.AddIndex("product", models.Index(fields=["price"], name="product_price_idx"))]
EOF
out=$(migrate); rc=$?
ok "$rc|$(guard_error "$out")|$(grep -q 'HINT:  Use CREATE INDEX CONCURRENTLY outside a transaction block' <<<"$out" && echo hint)" "1|schema_guard: create_index_blocking|hint" \
   "AddIndex on a table with rows is blocked, and Django's error shows the recipe"
echo "# Django says: $(grep -m1 'schema_guard: create_index_blocking' <<<"$out")"
ok "$(q -d djapp -c "SELECT count(*) FROM pg_indexes WHERE indexname = 'product_price_idx'")|$(q -d djapp -c "SELECT count(*) FROM django_migrations WHERE app = 'shop'")" "0|2" \
   "the blocked migration left nothing behind and is not recorded"
mig 0003_product_price_idx <<'EOF'
from django.contrib.postgres.operations import AddIndexConcurrently

class Migration(migrations.Migration):
    atomic = False
    dependencies = [("shop", "0002_product_stock")]
    operations = [AddIndexConcurrently("product", models.Index(fields=["price"], name="product_price_idx"))]
EOF
out=$(migrate); rc=$?
ok "$rc|$(guard_error "$out")|$(q -d djapp -c "SELECT count(*) FROM pg_index WHERE indexrelid = 'product_price_idx'::regclass AND indisvalid")" "0||1" \
   "AddIndexConcurrently in a non-atomic migration passes"

mig 0004_widen <<'EOF'
class Migration(migrations.Migration):
    dependencies = [("shop", "0003_product_price_idx")]
    operations = [
        migrations.AlterField("product", "name", models.CharField(max_length=200, db_index=True)),
        migrations.AlterField("product", "sku", models.CharField(max_length=64, unique=True)),
    ]
EOF
out=$(migrate); rc=$?
ok "$rc|$(guard_error "$out")|$(q -d djapp -c "SELECT string_agg(format_type(atttypid, atttypmod), ',' ORDER BY attname) FROM pg_attribute WHERE attrelid = 'shop_product'::regclass AND attname IN ('name', 'sku')")" \
   "0||character varying(200),character varying(64)" \
   "AlterField widening max_length of an indexed and of a unique CharField passes (no rewrite, indexes kept)"

mig 0005_remove_legacy_code <<'EOF'
class Migration(migrations.Migration):
    dependencies = [("shop", "0004_widen")]
    operations = [migrations.RemoveField("product", "legacy_code")]
EOF
out=$(migrate); ok "$?|$(guard_error "$out")" "1|schema_guard: drop_column" "RemoveField is blocked"
mig 0005_remove_legacy_code <<'EOF'
class Migration(migrations.Migration):
    dependencies = [("shop", "0004_widen")]
    operations = [
        # the deployed code no longer reads legacy_code: accepted for this migration's transaction
        migrations.RunSQL("SET LOCAL schema_guard.allow = 'drop_column'", migrations.RunSQL.noop),
        migrations.RemoveField("product", "legacy_code"),
    ]
EOF
out=$(migrate); ok "$?|$(guard_error "$out")" "0|" "RemoveField passes with SET LOCAL schema_guard.allow = 'drop_column' in the same migration"

mig 0006_rename_descr <<'EOF'
class Migration(migrations.Migration):
    dependencies = [("shop", "0005_remove_legacy_code")]
    operations = [migrations.RenameField("product", "descr", "description")]
EOF
out=$(migrate); ok "$?|$(guard_error "$out")" "1|schema_guard: rename_column" "RenameField is blocked"
mig 0006_rename_descr <<'EOF'
class Migration(migrations.Migration):
    dependencies = [("shop", "0005_remove_legacy_code")]
    operations = [
        migrations.RunSQL("SET LOCAL schema_guard.allow = 'rename_column'", migrations.RunSQL.noop),
        migrations.RenameField("product", "descr", "description"),
    ]
EOF
out=$(migrate); ok "$?|$(guard_error "$out")" "0|" "RenameField passes with SET LOCAL schema_guard.allow = 'rename_column'"
ok "$(q -d djapp -c "SELECT current_setting('schema_guard.allow')")" "" "the acknowledgement did not outlive its migration"

mig 0007_price_check <<'EOF'
class Migration(migrations.Migration):
    dependencies = [("shop", "0006_rename_descr")]
    operations = [migrations.AddConstraint("product", models.CheckConstraint(check=models.Q(price__gte=0), name="price_nonneg"))]
EOF
out=$(migrate); ok "$?|$(guard_error "$out")" "1|schema_guard: add_check_scan" "AddConstraint CHECK on a table with rows is blocked"
mig 0007_price_check <<'EOF'
class Migration(migrations.Migration):
    dependencies = [("shop", "0006_rename_descr")]
    operations = [
        migrations.RunSQL(
            'ALTER TABLE shop_product ADD CONSTRAINT price_nonneg CHECK (price >= 0) NOT VALID',
            'ALTER TABLE shop_product DROP CONSTRAINT price_nonneg',
            state_operations=[migrations.AddConstraint(
                "product", models.CheckConstraint(check=models.Q(price__gte=0), name="price_nonneg"))]),
    ]
EOF
mig 0008_validate_price_check <<'EOF'
class Migration(migrations.Migration):
    dependencies = [("shop", "0007_price_check")]
    operations = [migrations.RunSQL('ALTER TABLE shop_product VALIDATE CONSTRAINT price_nonneg', migrations.RunSQL.noop)]
EOF
out=$(migrate); rc=$?
ok "$rc|$(guard_error "$out")|$(q -d djapp -c "SELECT convalidated FROM pg_constraint WHERE conname = 'price_nonneg'")" "0||t" \
   "CHECK added NOT VALID, then VALIDATE in the next migration: both pass (one migrate run)"
out=$(manage makemigrations --check --dry-run shop); ok "$?" "0" "Django's model state matches the database's migrations (makemigrations --check)"

# manage.py test: the test database is created from template1, which has the extension;
# every migration above runs again there in one session, on empty tables.
out=$(DJ_DB=djapp manage test shop --no-input -v 1); rc=$?
ok "$rc|$(grep -c '^OK$' <<<"$out")|$(guard_error "$out")" "0|1|" \
   "manage.py test with the extension in template1: the test database is built and the guard is active in it"

ok "$(grep -c 'terminated by signal\|TRAP:' "$DIR/server.log")" "0" "no crash"
echo "1..$n"
cleanup_dir "$BASE"
exit $failed
