"""Database helpers shared by the apps' services."""

from functools import cache

from django.db import DEFAULT_DB_ALIAS, connection, transaction


def require_transaction(message: str) -> None:
    """Refuse to run outside an atomic block: for writes that must commit or roll back with
    the caller's change (an outbox event, a reference number)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError(message)


@cache
def _insert_plan(model) -> tuple[str, tuple]:
    fields = tuple(f for f in model._meta.concrete_fields if not f.primary_key)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    pk = connection.ops.quote_name(model._meta.pk.column)
    table = connection.ops.quote_name(model._meta.db_table)
    return f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) RETURNING {pk}", fields


@cache
def _select_plan(model) -> tuple[str, list[str], list[tuple]]:
    fields = model._meta.concrete_fields
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    # What the ORM's compiler applies to a column read (a JSONField's decoding, say).
    converters = [
        (index, field, converters)
        for index, field in enumerate(fields)
        if (converters := field.get_db_converters(connection))
    ]
    return f"SELECT {columns} FROM {table} WHERE ", [f.attname for f in fields], converters


def _converted(row, converters) -> list:
    row = list(row)
    for index, field, functions in converters:
        for function in functions:
            row[index] = function(row[index], field, connection)
    return row


def rows_fetch(model, where: str, params) -> list:
    """The model's rows matching a written-out WHERE clause, as instances (Model.from_db, as
    the ORM builds them), read from the primary. For hot paths only: building the start's
    filter() on the request's lazy user was the largest part of a start's own code under the
    profiler. With row_insert and one auto-submit job per second, `make bench` went from
    8.62 to 6.18 ms of web CPU per start."""
    select, attnames, converters = _select_plan(model)
    with connection.cursor() as cursor:
        cursor.execute(select + where, params)
        rows = cursor.fetchall()
    return [model.from_db(DEFAULT_DB_ALIAS, attnames, _converted(row, converters)) for row in rows]


def row_insert(instance) -> None:
    """INSERT a new model instance and set its primary key, as Model.save() would, without
    the ORM's SQL compiler, which spent more time building the outbox row's INSERT than
    PostgreSQL spent running it (profiled in-process; `make bench`, web CPU per submit
    7.62 -> 6.03 ms). Defaults, auto_now and field conversions apply as in save(); save()
    overrides and signals do not, nor db_default or GeneratedField, so only for models that
    have none of them. A constraint violation raises django.db.IntegrityError as save() does."""
    sql, fields = _insert_plan(type(instance))
    values = [f.get_db_prep_save(f.pre_save(instance, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        instance.pk = cursor.fetchone()[0]
    instance._state.adding = False
    instance._state.db = DEFAULT_DB_ALIAS
