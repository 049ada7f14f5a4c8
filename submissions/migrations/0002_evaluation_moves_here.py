"""The Evaluation model moves from the scoring package (now a library without models) to this
app. An existing installation keeps its rows: the old table is renamed; a new one is created."""

import django.db.models.deletion
from django.db import migrations, models

OLD_TABLE = "scoring_evaluation"


def adopt_or_create_table(apps, schema_editor):
    evaluation = apps.get_model("submissions", "Evaluation")
    if OLD_TABLE in schema_editor.connection.introspection.table_names():
        schema_editor.alter_db_table(evaluation, OLD_TABLE, evaluation._meta.db_table)
    else:
        schema_editor.create_model(evaluation)


def give_back_table(apps, schema_editor):
    evaluation = apps.get_model("submissions", "Evaluation")
    schema_editor.alter_db_table(evaluation, evaluation._meta.db_table, OLD_TABLE)


class Migration(migrations.Migration):
    dependencies = [
        ("benchmarks", "0001_initial"),
        ("submissions", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Evaluation",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("metrics", models.JSONField(default=dict)),
                        ("slices", models.JSONField(blank=True, default=list)),
                        ("confusion", models.JSONField(blank=True, null=True)),
                        ("efficiency", models.JSONField(blank=True, null=True)),
                        ("provenance", models.JSONField(default=dict)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        (
                            "split",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="evaluations",
                                to="benchmarks.split",
                            ),
                        ),
                        (
                            "submission",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="evaluations",
                                to="submissions.submission",
                            ),
                        ),
                        (
                            "task",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="+",
                                to="benchmarks.task",
                            ),
                        ),
                    ],
                    options={
                        "ordering": ["task", "split"],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("submission", "split"), name="evaluation_unique"
                            )
                        ],
                    },
                ),
            ],
        ),
        # After the state change, so that the function sees the model.
        migrations.RunPython(adopt_or_create_table, give_back_table),
        migrations.AddField(
            model_name="submission",
            name="requeued_at",
            field=models.DateTimeField(
                blank=True, help_text="When the reaper last published the job again.", null=True
            ),
        ),
        migrations.AlterField(
            model_name="submission",
            name="attempts",
            field=models.PositiveIntegerField(
                default=0, help_text="How many times the reaper published the job again."
            ),
        ),
    ]
