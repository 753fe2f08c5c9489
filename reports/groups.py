"""Sums of fine groups: a report counts its rows once in the database, grouped by every
dimension it shows (day, branch, origin, ...), and each of its tables is those groups summed by
one dimension here. The groups are a few thousand rows at most (days x the dimensions' values),
never the services themselves; one scan of the period instead of one per table."""


def summed(groups, key, columns):
    """{key(group): {column: sum}} over the groups; key None sums everything under None."""
    sums = {}
    for group in groups:
        name = key(group) if key else None
        values = sums.get(name)
        if values is None:
            values = sums[name] = dict.fromkeys(columns, 0)
        for column in columns:
            values[column] += group[column]
    return sums


def total(groups, columns):
    """Every group summed: the report's totals (zeros without any group)."""
    return summed(groups, None, columns).get(None, dict.fromkeys(columns, 0))
