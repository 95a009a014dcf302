import io

import pytest
from django.core.management import CommandError, call_command

from apps.accounts.models import User
from apps.accounts.services import (
    ERR_BAD_EMAIL,
    ERR_DUPLICATE_ID,
    ERR_HEADER_MISSING,
    ERR_NUL,
    ERR_UNKNOWN_DISTRICT,
    teachers_import,
)
from tests.accounts.factories import BatchFactory, DistrictFactory, UserFactory

pytestmark = pytest.mark.django_db

HEADER = "employee_id,first_name,last_name,email,district,batch\n"


@pytest.fixture(autouse=True)
def places():
    DistrictFactory(name="Pune", code="pune")
    DistrictFactory(name="Nagpur", code="nagpur")
    BatchFactory(name="2026-A", code="2026-a")


def write_csv(tmp_path, text, name="teachers.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("import_teachers", *args, "--no-progress", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_good_file_creates_teachers_with_their_district_and_batch(tmp_path):
    path = write_csv(
        tmp_path,
        HEADER
        + "P001,Asha,Kulkarni,asha@example.org,Pune,2026-A\n"
        + "N001,Ravi,Deshmukh,RAVI@example.org,nagpur,\n",
    )
    out, _ = run(path)
    assert "2 new, 0 updated" in out
    asha = User.objects.get(employee_id="P001")
    assert (asha.username, asha.district.name, asha.batch.name) == ("P001", "Pune", "2026-A")
    assert asha.role == User.Role.TEACHER
    assert not asha.has_usable_password()
    ravi = User.objects.get(employee_id="N001")
    assert (ravi.email, ravi.district.name, ravi.batch) == ("ravi@example.org", "Nagpur", None)


def test_reimport_updates_and_never_duplicates(tmp_path):
    run(write_csv(tmp_path, HEADER + "P001,Asha,Kulkarni,asha@example.org,Pune,2026-A\n"))
    out, _ = run(
        write_csv(
            tmp_path,
            HEADER
            + "P001,Asha,Patil,asha.patil@example.org,Nagpur,2026-A\n"
            + "P002,Meera,Joshi,meera@example.org,Pune,\n",
            name="again.csv",
        )
    )
    assert "1 new, 1 updated" in out
    assert User.objects.filter(role=User.Role.TEACHER).count() == 2
    asha = User.objects.get(employee_id="P001")
    assert (asha.last_name, asha.email, asha.district.name) == (
        "Patil",
        "asha.patil@example.org",
        "Nagpur",
    )


def test_reimport_without_the_batch_column_keeps_batches_an_empty_cell_clears(tmp_path):
    run(write_csv(tmp_path, HEADER + "P001,Asha,Kulkarni,asha@example.org,Pune,2026-A\n"))
    no_batch = "employee_id,first_name,last_name,email,district\n"
    run(write_csv(tmp_path, no_batch + "P001,Asha,Patil,asha@example.org,Pune\n", name="b.csv"))
    asha = User.objects.get(employee_id="P001")
    assert (asha.last_name, asha.batch.name) == ("Patil", "2026-A")
    run(write_csv(tmp_path, HEADER + "P001,Asha,Patil,asha@example.org,Pune,\n", name="c.csv"))
    asha.refresh_from_db()
    assert asha.batch is None


def test_bad_rows_are_all_named_by_line_and_nothing_is_imported(tmp_path):
    path = write_csv(
        tmp_path,
        HEADER
        + "P001,Asha,Kulkarni,asha@example.org,Pune,\n"  # line 2: good
        + "P002,Meera,Joshi,not-an-email,Pune,\n"  # line 3
        + "P003,Kiran,Rao,kiran@example.org,Thane,\n"  # line 4
        + "P001,Asha,Again,asha2@example.org,Pune,\n"  # line 5: duplicate id
        + ",No,Id,noid@example.org,Pune,\n",  # line 6
    )
    with pytest.raises(CommandError, match="4 of 5 rows are invalid"):
        run(path)
    assert not User.objects.filter(role=User.Role.TEACHER).exists()


def test_error_report_lists_every_bad_row(tmp_path):
    path = write_csv(
        tmp_path,
        HEADER
        + "P002,Meera,Joshi,not-an-email,Pune,\n"
        + "P003,Kiran,Rao,kiran@example.org,Thane,\n"
        + "P003,Kiran,Rao,kiran@example.org,Pune,\n",
    )
    with open(path, encoding="utf-8") as handle:
        result = teachers_import(file=handle)
    assert [(e.line, e.employee_id) for e in result.errors] == [
        (2, "P002"),
        (3, "P003"),
        (4, "P003"),
    ]
    assert result.errors[0].problems == [ERR_BAD_EMAIL.format(value="not-an-email")]
    assert result.errors[1].problems == [ERR_UNKNOWN_DISTRICT.format(value="Thane")]
    assert result.errors[2].problems == [ERR_DUPLICATE_ID.format(value="P003", line=3)]
    assert not result.imported


def test_skip_invalid_imports_the_good_rows_and_reports_the_bad(tmp_path):
    path = write_csv(
        tmp_path,
        HEADER
        + "P001,Asha,Kulkarni,asha@example.org,Pune,\n"
        + "P002,Meera,Joshi,not-an-email,Pune,\n",
    )
    out, err = run(path, "--skip-invalid")
    assert "1 new, 0 updated, 1 invalid rows skipped" in out
    assert "line 3 (P002): invalid email" in err
    assert list(User.objects.values_list("employee_id", flat=True)) == ["P001"]


def test_wrong_header_is_one_clear_error(tmp_path):
    path = write_csv(tmp_path, "id,name,mail\nP001,Asha,asha@example.org\n")
    with pytest.raises(CommandError) as raised:
        run(path)
    assert str(raised.value) == ERR_HEADER_MISSING.format(
        columns="employee_id, first_name, last_name, email, district"
    )


def test_unknown_column_is_refused(tmp_path):
    path = write_csv(tmp_path, HEADER.strip() + ",btach\n")
    with pytest.raises(CommandError, match="unknown column"):
        run(path)


def test_non_utf8_file_and_missing_file_are_clear_errors(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes((HEADER + "P001,José,Núñez,jose@example.org,Pune,\n").encode("latin-1"))
    with pytest.raises(CommandError, match="not valid UTF-8"):
        run(str(path))
    with pytest.raises(CommandError, match="Cannot open"):
        run(str(tmp_path / "missing.csv"))


def test_a_directory_and_an_oversized_field_are_clear_errors(tmp_path):
    with pytest.raises(CommandError, match="Cannot open"):
        run(str(tmp_path))
    path = write_csv(tmp_path, HEADER + "P001,Asha," + "x" * 200_000 + ",a@example.org,Pune,\n")
    with pytest.raises(CommandError, match="not a readable CSV \\(line 2: field larger"):
        run(path)


def test_a_nul_character_is_a_row_error_not_a_database_error(tmp_path):
    path = write_csv(tmp_path, HEADER + "P001,As\x00ha,Kulkarni,asha@example.org,Pune,\n")
    with pytest.raises(CommandError, match="nothing was imported"):
        run(path)
    with open(path, encoding="utf-8") as handle:
        result = teachers_import(file=handle)
    assert result.errors[0].problems == [ERR_NUL.format(column="first_name")]
    assert not User.objects.filter(employee_id="P001").exists()


def test_dry_run_counts_without_writing(tmp_path):
    run(write_csv(tmp_path, HEADER + "P001,Asha,Kulkarni,asha@example.org,Pune,\n"))
    path = write_csv(
        tmp_path,
        HEADER
        + "P001,Asha,Kulkarni,asha@example.org,Pune,\n"
        + "P002,Meera,Joshi,meera@example.org,Pune,\n",
        name="dry.csv",
    )
    out, _ = run(path, "--dry-run")
    assert "Would import 2 teachers: 1 new, 1 updated" in out
    assert User.objects.filter(role=User.Role.TEACHER).count() == 1


def test_a_username_held_by_another_account_is_a_row_error(tmp_path):
    UserFactory(username="P001")  # an officer account that happens to have that name
    path = write_csv(tmp_path, HEADER + "P001,Asha,Kulkarni,asha@example.org,Pune,\n")
    with pytest.raises(CommandError, match="1 of 1 rows are invalid"):
        run(path)


@pytest.mark.parametrize("atomic", [False, True])
def test_large_file_in_chunks_with_initial_password(tmp_path, atomic):
    rows = "".join(
        f"T{n:05d},First{n},Last{n},t{n}@example.org,{'Pune' if n % 2 else 'Nagpur'},2026-A\n"
        for n in range(5000)
    )
    args = [
        write_csv(tmp_path, HEADER + rows),
        "--chunk-size",
        "700",
        "--initial-password",
        "s3cret-Pass",
    ]
    out, _ = run(*([*args, "--atomic"] if atomic else args))
    assert "5000 new, 0 updated" in out
    teachers = User.objects.filter(role=User.Role.TEACHER)
    assert teachers.count() == 5000
    assert teachers.filter(district__name="Pune").count() == 2500
    assert User.objects.get(employee_id="T04999").check_password("s3cret-Pass")
