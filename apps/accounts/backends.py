"""Authentication backend whose per-request user lookup comes from the cache.

Every authenticated request loads its user; on the answer-save path that SELECT was one of
the two SQL statements and a good part of the CPU. The user row changes rarely, and every
change drops the cached copy once committed (`user_cache_forget_on_commit`): saves and
deletes through the ORM by the receiver connected in apps.py, the teacher import's bulk
upsert explicitly. Session verification is unchanged: Django still compares the session's
hash with the (cached) user's password hash, and a password change saves the user, so old
sessions end at once. The cached row includes that password hash: the cache is as private
as the database (README, Deploying).
"""

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.db import transaction


def user_cache_key(user_id) -> str:
    return f"accounts:user:{user_id}"


def user_cache_forget_on_commit(*user_ids) -> None:
    """After the commit: dropped earlier, a request in between would cache the old row again."""
    keys = [user_cache_key(user_id) for user_id in user_ids]
    if keys:
        transaction.on_commit(lambda: cache.delete_many(keys))


def user_changed(sender, instance, **kwargs) -> None:
    """post_save / post_delete receiver for the user model (connected in apps.py)."""
    user_cache_forget_on_commit(instance.pk)


class CachedModelBackend(ModelBackend):
    def get_user(self, user_id):
        key = user_cache_key(user_id)
        user = cache.get(key)
        if user is None:
            user = super().get_user(user_id)
            if user is not None:
                cache.set(key, user, settings.ACCOUNTS_USER_CACHE_TTL)
        return user
