"""A finished prediction's answer in words, as every page says it: a class ("Cat, 98.1% confident"), "Can't
tell: cat 55%, dog 45%" or "Not a cat or a dog", built from the answering version's own class names, so that
a model of birds, cats and dogs is described as such.

Plain values for the templates (classifier/_verdict.html): no HTML here.
"""

from dataclasses import dataclass

from trainer.ml import OTHER, UNSURE

# The history's filter choices beside the classes, and the API's `?verdict=` values.
VERDICT_CHOICE_NAMES = {UNSURE: "Can't tell", OTHER: "None of these"}
# "Can't tell" names every class's share up to this many classes; past it, the two it hesitated between.
_ALL_CLASSES_UP_TO = 3
# "Not a bird, a cat or a dog" reads well for a few classes; past this many, the sentence names the count.
_NAMED_CLASSES_UP_TO = 5


@dataclass(frozen=True)
class Answer:
    kind: str  # "class", "unsure" or "other": what the page's icon and style follow
    headline: str  # "dog", "Can't tell", "Not a cat or a dog"
    detail: str  # "97.3% confident", "cat 55%, dog 45%", or ""
    explanation: str  # why the model said so, for the detail page; "" for a class

    @property
    def sentence(self) -> str:
        """The answer in one line: "Dog, 97.3% confident", "Can't tell: cat 55%, dog 45%"."""
        headline = self.headline[:1].upper() + self.headline[1:]
        if not self.detail:
            return headline
        return f"{headline}, {self.detail}" if self.kind == "class" else f"{headline}: {self.detail}"


def answer_of(verdict: str, probabilities: dict[str, float], class_names: list[str]) -> Answer:
    """The words for `verdict` (a class name, "unsure" or "other"), given every class's probability and the
    answering version's classes (in its order; the probabilities' names when the version is unknown)."""
    names = [_spoken(name) for name in (class_names or sorted(probabilities))]
    if verdict == UNSURE:
        return Answer(
            "unsure",
            "Can't tell",
            _hesitation(probabilities),
            f"The photo looks like {_one_of(names)}, but the model cannot tell which: the likeliest classes "
            "are too close to call. A clearer photo, or one from another angle, may help.",
        )
    if verdict == OTHER:
        return Answer(
            "other",
            none_of(names),
            "",
            f"The photo looks like none of the kinds of thing this model knows ({_listing(names, 'and')}): it is "
            "too far from every photo the model was trained on, so it does not pick one. The bars below still "
            "show how the model's classes compare.",
        )
    confidence = probabilities.get(verdict)
    return Answer("class", _spoken(verdict), f"{confidence:.1%} confident" if confidence is not None else "", "")


def none_of(class_names: list[str]) -> str:
    """ "Not a cat or a dog"; "Not a bird, a cat or a dog"; "None of: cats, dogs" when articles would not fit
    (plural names); "None of the 12 kinds of thing it knows" for many classes."""
    names = [_spoken(name) for name in class_names]
    if len(names) > _NAMED_CLASSES_UP_TO:
        return f"None of the {len(names)} kinds of thing it knows"
    if all(_takes_an_article(name) for name in names):
        return "Not " + _listing([_with_article(name) for name in names], "or")
    return "None of: " + ", ".join(names)


def said(label: str, class_names: list[str]) -> str:
    """What the owner said a photo shows, in words: "dog", or for "other" "Not a cat or a dog"."""
    return none_of(class_names) if label == OTHER else _spoken(label)


def _hesitation(probabilities: dict[str, float]) -> str:
    ranked = sorted(probabilities.items(), key=lambda item: item[1], reverse=True)
    shown = ranked if len(ranked) <= _ALL_CLASSES_UP_TO else ranked[:2]
    return ", ".join(f"{_spoken(name)} {probability:.0%}" for name, probability in shown)


def _one_of(names: list[str]) -> str:
    if all(_takes_an_article(name) for name in names):
        return _listing([_with_article(name) for name in names], "or")
    return "one of " + _listing(names, "or")


def _listing(names: list[str], conjunction: str) -> str:
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} {conjunction} {names[-1]}"


def _spoken(name: str) -> str:
    return name.replace("_", " ")


def _takes_an_article(name: str) -> bool:
    """A lower-case singular noun or two ("cat", "golden retriever"): "a cat" reads well. Plurals ("cats"),
    proper names and codes are listed bare instead of guessing wrong."""
    words = name.split()
    return (
        0 < len(words) <= 3
        and all(word.isalpha() and word.islower() for word in words)
        and not (name.endswith("s") and not name.endswith("ss"))
    )


def _with_article(name: str) -> str:
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"
