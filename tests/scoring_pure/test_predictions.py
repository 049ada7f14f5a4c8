"""Reading and checking prediction files (docs/formats.md)."""

from __future__ import annotations

import gzip
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from scoring.predictions import PredictionFileError, check_predictions, read_prediction_file

CLS = {
    "slug": "sst",
    "type": "text-classification",
    "columns": {"id": "id", "inputs": ["text"], "label": "label", "labels": ["neg", "pos"]},
}
GOLD_IDS = pa.array(["1", "2", "3"])


def read(data: bytes | str, name: str) -> pa.Table:
    if isinstance(data, str):
        data = data.encode()
    return read_prediction_file(io.BytesIO(data), name)


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def errors(excinfo) -> str:
    return str(excinfo.value)


class TestReading:
    def test_it_reads_csv_with_ids_as_text(self):
        table = read("id,prediction\n007,pos\n8,neg\n", "p.csv")
        assert table["id"].to_pylist() == ["007", "8"]
        assert table["prediction"].to_pylist() == ["pos", "neg"]

    def test_it_reads_jsonl_with_integer_ids(self):
        table = read('{"id": 1, "prediction": "pos"}\n{"id": 2, "prediction": "neg"}\n', "p.jsonl")
        assert table["id"].to_pylist() == ["1", "2"]

    def test_it_reads_jsonl_with_mixed_id_types(self):
        table = read(
            '{"id": 1, "prediction": "pos"}\n{"id": "b", "prediction": "neg"}\n', "p.jsonl"
        )
        assert table["id"].to_pylist() == ["1", "b"]

    def test_it_reads_a_json_array(self):
        table = read(json.dumps([{"id": 1, "prediction": 0.5}]), "p.json")
        assert table["id"].to_pylist() == ["1"]
        assert table["prediction"].to_pylist() == [0.5]

    def test_it_reads_parquet_with_integer_ids(self):
        data = parquet_bytes(pa.table({"id": [1, 2], "prediction": ["pos", "neg"]}))
        assert read(data, "p.parquet")["id"].to_pylist() == ["1", "2"]

    @pytest.mark.parametrize("name", ["p.csv.gz", "p.CSV.GZ"])
    def test_it_reads_gzipped_files(self, name):
        data = gzip.compress(b"id,prediction\n1,pos\n")
        assert read(data, name)["prediction"].to_pylist() == ["pos"]

    def test_it_keeps_the_task_column(self):
        table = read("id,prediction,task\n1,pos,sst\n", "p.csv")
        assert table.column_names == ["id", "prediction", "task"]

    def test_it_ignores_a_byte_order_mark(self):
        assert read(b"\xef\xbb\xbfid,prediction\n1,pos\n", "p.csv").column_names[0] == "id"

    def test_it_reads_from_a_path(self, tmp_path):
        path = tmp_path / "p.csv"
        path.write_text("id,prediction\n1,pos\n")
        assert read_prediction_file(str(path), "p.csv").num_rows == 1

    @pytest.mark.parametrize(
        ("data", "name", "expected"),
        [
            (b"id,prediction\n1,pos\n", "p.txt", "Unsupported file type"),
            (b"id,prediction\n1,pos\n", "p.xlsx.gz", "Unsupported file type"),
            (b"", "p.csv", "empty"),
            (b"   \n", "p.jsonl", "empty"),
            (b"id,prediction\n", "p.csv", "no rows"),
            (b"id,pred\n1,pos\n", "p.csv", "no 'prediction' column"),
            (b"ident,prediction\n1,pos\n", "p.csv", "no 'id' column"),
            (b"id,prediction\n1,caf\xe9\n", "p.csv", "not UTF-8"),
            (b"id,prediction\n1,pos,extra\n", "p.csv", "wrong number of fields"),
            (b'{"id": 1, "prediction": "pos"}\n{"id": 2,\n', "p.jsonl", "not valid JSON"),
            (b"not parquet at all", "p.parquet", "could not be read"),
            (b"not gzip", "p.csv.gz", "not valid gzip"),
            (b"id,prediction\n,pos\n", "p.csv", "empty id"),
        ],
    )
    def test_it_explains_unreadable_files(self, data, name, expected):
        with pytest.raises(PredictionFileError) as excinfo:
            read(data, name)
        assert expected in errors(excinfo)
        assert "Traceback" not in errors(excinfo)
        assert excinfo.value.messages


class TestCoverage:
    def test_it_accepts_a_complete_file_in_any_order(self):
        table = read("id,prediction\n3,pos\n1,neg\n2,1\n", "p.csv")
        checked = check_predictions(CLS, GOLD_IDS, table)
        assert checked.column_names == ["id", "prediction"]
        assert checked["id"].to_pylist() == ["1", "2", "3"]  # in gold order
        assert checked["prediction"].to_pylist() == ["neg", "pos", "pos"]

    def test_it_rejects_a_file_with_missing_duplicated_and_unknown_ids(self):
        table = read("id,prediction\n1,pos\n1,neg\n9,pos\n", "p.csv")
        with pytest.raises(PredictionFileError) as excinfo:
            check_predictions(CLS, GOLD_IDS, table)
        messages = excinfo.value.messages
        assert any("2 ids of the task are missing" in m and '"2"' in m for m in messages)
        assert any("1 id appears more than once" in m for m in messages)
        assert any(
            "1 id in the file is not an id of this task" in m and '"9"' in m for m in messages
        )

    def test_it_shows_at_most_five_examples(self):
        gold = pa.array([str(i) for i in range(100)])
        table = read("id,prediction\n1,pos\n", "p.csv")
        with pytest.raises(PredictionFileError) as excinfo:
            check_predictions(CLS, gold, table)
        assert "99 ids" in errors(excinfo)
        assert errors(excinfo).count('"') == 10  # five quoted ids

    def test_it_ignores_rows_of_other_tasks(self):
        table = read("id,prediction,task\n1,pos,sst\n2,neg,sst\n3,pos,\n9,x,other\n", "p.csv")
        assert check_predictions(CLS, GOLD_IDS, table).num_rows == 3


class TestTypes:
    def test_it_rejects_unknown_label_names_and_lists_the_allowed_ones(self):
        table = read("id,prediction\n1,positive\n2,neg\n3,5\n", "p.csv")
        with pytest.raises(PredictionFileError) as excinfo:
            check_predictions(CLS, GOLD_IDS, table)
        assert '"positive"' in errors(excinfo) and '"5"' in errors(excinfo)
        assert '"neg", "pos"' in errors(excinfo)

    def test_it_accepts_integer_indices_from_parquet(self):
        data = parquet_bytes(pa.table({"id": ["1", "2", "3"], "prediction": [0, 1, 1]}))
        checked = check_predictions(CLS, GOLD_IDS, read(data, "p.parquet"))
        assert checked["prediction"].to_pylist() == ["neg", "pos", "pos"]

    def test_label_names_win_over_indices(self):
        spec = {**CLS, "columns": {**CLS["columns"], "labels": ["1", "0"]}}
        checked = check_predictions(spec, GOLD_IDS, read("id,prediction\n1,1\n2,0\n3,1\n", "p.csv"))
        assert checked["prediction"].to_pylist() == ["1", "0", "1"]

    def test_token_classification_takes_json_lists_in_csv_cells(self):
        spec = {"type": "token-classification", "columns": {}}
        table = read('id,prediction\n1,"[""B-PER"", ""O""]"\n2,[]\n3,"[""O""]"\n', "p.csv")
        checked = check_predictions(spec, GOLD_IDS, table)
        assert checked["prediction"].to_pylist() == [["B-PER", "O"], [], ["O"]]

    def test_token_classification_takes_lists_in_jsonl(self):
        spec = {"type": "token-classification", "columns": {}}
        rows = [{"id": i, "prediction": ["O"] * i} for i in (1, 2, 3)]
        table = read("\n".join(json.dumps(r) for r in rows), "p.jsonl")
        assert check_predictions(spec, GOLD_IDS, table)["prediction"].to_pylist()[2] == ["O"] * 3

    def test_token_classification_rejects_non_lists(self):
        spec = {"type": "token-classification", "columns": {}}
        table = read('id,prediction\n1,B-PER\n2,[]\n3,"[1]"\n', "p.csv")
        with pytest.raises(PredictionFileError) as excinfo:
            check_predictions(spec, GOLD_IDS, table)
        assert "2 predictions are not a JSON list" in errors(excinfo)

    @pytest.mark.parametrize("task_type", ["question-answering", "text-generation"])
    def test_text_predictions_may_be_empty(self, task_type):
        spec = {"type": task_type, "columns": {}}
        table = read(
            '{"id": 1, "prediction": ""}\n{"id": 2, "prediction": null}\n'
            '{"id": 3, "prediction": "x"}\n',
            "p.jsonl",
        )
        assert check_predictions(spec, GOLD_IDS, table)["prediction"].to_pylist() == ["", "", "x"]

    def test_regression_parses_numbers_from_csv(self):
        spec = {"type": "regression", "columns": {}}
        checked = check_predictions(
            spec, GOLD_IDS, read("id,prediction\n1,1.5\n2,-2\n3,1e3\n", "p.csv")
        )
        assert checked["prediction"].to_pylist() == [1.5, -2.0, 1000.0]

    def test_regression_rejects_non_numbers_with_examples(self):
        spec = {"type": "regression", "columns": {}}
        table = read("id,prediction\n1,abc\n2,nan\n3,0.5\n", "p.csv")
        with pytest.raises(PredictionFileError) as excinfo:
            check_predictions(spec, GOLD_IDS, table)
        assert "2 predictions are not finite numbers" in errors(excinfo)
        assert '"abc"' in errors(excinfo)
