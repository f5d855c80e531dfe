"""The URL list an admin pastes or uploads as CSV: url,label or "url label" lines."""

import pytest

from trainer.datasets import parse_url_list


def test_pasted_lines_and_csv_rows_give_url_and_label_pairs():
    text = (
        "url,label\n"
        "https://example.com/cat1.jpg,cat\n"
        "\n"
        "# dogs from the shelter's site\n"
        "https://example.com/dog1.jpg dog\n"
        "  https://example.com/dog2.jpg\tdog  \n"
        '"https://example.com/a,b.jpg", cat\n'
    )
    assert parse_url_list(text) == [
        ("https://example.com/cat1.jpg", "cat"),
        ("https://example.com/dog1.jpg", "dog"),
        ("https://example.com/dog2.jpg", "dog"),
        ("https://example.com/a,b.jpg", "cat"),
    ]


def test_bad_lines_are_named_with_their_number():
    text = "https://example.com/1.jpg,cat\nftp://example.com/2.jpg,cat\nhttps://example.com/3.jpg\nhttps://e.com/4.jpg,../x\n"
    with pytest.raises(ValueError) as error:
        parse_url_list(text)
    message = str(error.value)
    assert message.startswith("Some lines cannot be used: ")
    assert "line 2: ftp://example.com/2.jpg is not an http or https URL" in message
    assert "line 3: expected a URL and a class, found 1 values" in message
    assert "line 4: the class name '../x' is not usable" in message


def test_an_empty_list_is_refused():
    with pytest.raises(ValueError, match="^No URL was given.$"):
        parse_url_list("url,label\n# nothing yet\n")
