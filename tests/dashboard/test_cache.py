"""The Redis cache stores JSON: what the console caches comes back the same, and a pickled
value written to Redis by someone else is refused rather than run."""

import pickle

import pytest

from dashboard.cache import JSONSerializer


@pytest.mark.parametrize(
    "value",
    [{"workers": ["ana", "<b>"], "tags": []}, ["a", 1, None, True], "text", 1.5, 7, 0, -3],
)
def test_values_come_back_as_they_went_in(value):
    serializer = JSONSerializer()
    assert serializer.loads(serializer.dumps(value)) == value


def test_integers_are_stored_bare_so_incr_works():
    assert JSONSerializer().dumps(41) == 41
    assert JSONSerializer().loads(b"42") == 42


class Boom:
    def __reduce__(self):
        return (exec, ("raise SystemExit('pickle ran code')",))


def test_a_pickle_is_not_unpickled():
    with pytest.raises(ValueError):
        JSONSerializer().loads(pickle.dumps(Boom()))
