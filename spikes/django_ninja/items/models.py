"""ORM models mapped onto the existing tables of contract/schema.sql (never migrated by Django)."""

from django.db import models
from django.db.models.functions import Now


class User(models.Model):
    """A row of `users`. Not django.contrib.auth: the contract owns the schema."""

    id = models.BigAutoField(primary_key=True)
    username = models.CharField(max_length=32, unique=True)
    password_hash = models.CharField(max_length=255)
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        managed = False
        db_table = "users"

    def __str__(self) -> str:
        return self.username


class Item(models.Model):
    """A row of `items`; timestamps come from the database default on insert."""

    id = models.BigAutoField(primary_key=True)
    # The database cascades user deletes itself (ON DELETE CASCADE), so Django does nothing.
    owner = models.ForeignKey(User, on_delete=models.DO_NOTHING, related_name="items")
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=1000, null=True, blank=True)
    price = models.DecimalField(max_digits=9, decimal_places=2)
    created_at = models.DateTimeField(db_default=Now())
    updated_at = models.DateTimeField(db_default=Now())

    class Meta:
        managed = False
        db_table = "items"

    def __str__(self) -> str:
        return self.name
