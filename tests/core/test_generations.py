"""Cache generations: a bump makes the generation new; a lost key never brings back a
generation an old cached entry may still carry."""

from django.core.cache import cache

from apps.core.generations import generation, generation_bump

KEY = "test:generation"


def test_a_bump_moves_the_generation_on():
    cache.delete(KEY)
    first = generation(KEY)
    assert generation(KEY) == first  # reading does not move it
    generation_bump(KEY)
    assert generation(KEY) == first + 1


def test_a_lost_key_starts_from_the_clock_not_from_an_old_number():
    cache.delete(KEY)
    seen = {generation(KEY)}
    for _ in range(3):
        generation_bump(KEY)
        seen.add(generation(KEY))
    cache.delete(KEY)  # evicted
    generation_bump(KEY)  # a write after the loss
    assert generation(KEY) not in seen
    cache.delete(KEY)
    assert generation(KEY) not in seen  # a read after the loss
