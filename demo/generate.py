"""Write the data files of the demo bundles: `.venv/bin/python demo/generate.py [ROOT]`.

Every row is built from templates and word lists with seeded `random.Random` generators (the
standard library only: no network, no numpy), so running it twice writes byte-identical files.
ROOT defaults to this folder; each bundle's `benchmark.yaml` is written by hand and left alone.

The splits are large enough (hidden ones 450-600 rows) that every cell of every author slice,
and of the automatic slices (per label, per input length, per question word, ...), holds well
over the 20 rows a hidden split needs before a cell is shown.
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
import shutil
import struct
import sys
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent

FIRST = [
    "Ada", "Amara", "Bruno", "Chen", "Daniel", "Elena", "Felix", "Grace", "Hana", "Henrik",
    "Ingrid", "Jonas", "Kofi", "Lena", "Lucas", "Mei", "Nadia", "Omar", "Pedro", "Priya",
    "Rahul", "Sofia", "Tomas", "Yuki", "Zara", "Marta", "Ivan", "Leila", "Oscar", "Ruth",
]  # fmt: skip
LAST = [
    "Novak", "Brennan", "Okafor", "Weber", "Tanaka", "Iyer", "Haddad", "Petrov", "Santos",
    "Lindqvist", "Moreau", "Costa", "Nakamura", "Fischer", "Kowalski", "Mensah", "Rossi",
    "Dubois", "Varga", "Olsen", "Quinn", "Adeyemi", "Horvat", "Silva",
]  # fmt: skip
TOWNS = [
    "Northam", "Fairhaven", "Bramley", "Glenrock", "Larkfield", "Elmstead", "Millbrook",
    "Oakridge", "Kingsmere", "Caldwell", "Dunmore", "Ashby", "Westcombe", "Redhill", "Thornbury",
    "Marlow Cross", "Brackwater", "Stonehaven", "Ferndale", "Holloway", "Pennington", "Rydal",
]  # fmt: skip


def split_names(sizes: dict[str, int]):
    prefixes = {"train": "tr", "dev": "dev", "test": "te"}
    for split, size in sizes.items():
        yield split, prefixes[split], size


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def numbered(prefix: str, rows: list[dict]) -> list[dict]:
    """The rows in their order, each with an id first: `prefix-0001`, `prefix-0002`, ..."""
    return [{"id": f"{prefix}-{i:04d}", **row} for i, row in enumerate(rows, 1)]


def split_rows(bundle: str, sizes: dict[str, int], make_split):
    """Each split's rows, from `make_split(rng, prefix, size)` with a generator seeded by name."""
    for split, prefix, size in split_names(sizes):
        yield split, make_split(random.Random(f"{bundle}/{split}"), prefix, size)


def write_splits(root: Path, bundle: str, sizes: dict[str, int], make_split) -> None:
    """Write each split's rows to `ROOT/bundle/data/<split>.jsonl`."""
    for split, rows in split_rows(bundle, sizes, make_split):
        write_jsonl(root / bundle / "data" / f"{split}.jsonl", rows)


def words(text: str) -> int:
    return len(text.split())


def person(rng: random.Random, full: float = 0.8) -> str:
    first = rng.choice(FIRST)
    return f"{first} {rng.choice(LAST)}" if rng.random() < full else first


def article(word: str) -> str:
    return "an" if word[0].lower() in "aeiou" else "a"


# ---------------------------------------------------------------------------------------------
# sentiment-mini: restaurant and delivery reviews, negative or positive, per topic.

SENTIMENT = {
    # topic: (positive, negative, positive with a negation, negative with a negation, short +,
    # short -)
    "food": (
        [
            "The pasta was perfectly cooked and the sauce tasted homemade.",
            "The salad was crunchy and the dressing was lovely.",
            "The fish was flaky, tender and beautifully seasoned.",
            "The curry was rich, fragrant and just spicy enough.",
            "Every dish arrived hot and full of flavour.",
            "The dumplings were the best we have had in years.",
            "The dessert was light, sweet and gone in seconds.",
        ],
        [
            "My steak was tough and completely cold in the middle.",
            "The bread was hard enough to break a tooth.",
            "The soup was watery and tasted of nothing but salt.",
            "The chicken tasted like it had been reheated twice.",
            "Everything on the plate was swimming in oil.",
            "The rice was undercooked and the vegetables were grey.",
        ],
        [
            "I have never had a better curry in this town.",
            "There was not a single dish we did not finish.",
            "The portions were not small at all.",
            "There was no dish on the table we would not order again.",
        ],
        [
            "The fish was not fresh and the chips were not hot.",
            "There was no flavour in anything we ordered.",
            "The pasta was not cooked through.",
            "I would never order the lasagne again.",
        ],
        ["Delicious food, generous portions.", "Lovely fresh pasta.", "Great curry."],
        ["Bland, greasy food.", "Cold soggy chips.", "Tough dry steak."],
    ),
    "service": (
        [
            "Our waiter was attentive and remembered every allergy.",
            "The staff were warm and made us feel at home.",
            "Drinks came quickly and the bill was brought with a smile.",
            "The manager checked on every table during the evening.",
            "Our server gave great tips about what to order.",
        ],
        [
            "We had to wave for the bill for twenty minutes.",
            "Staff ignored us while they chatted at the bar.",
            "They brought the wrong dishes twice.",
            "The waiter rolled his eyes when we asked about the menu.",
            "Our table was given away while we waited at the door.",
        ],
        [
            "We never had to wait for anything.",
            "Nothing was too much trouble and no request was ignored.",
            "The staff were not pushy at all.",
        ],
        [
            "They never apologised for the mix-up.",
            "Nobody came to take our order and the staff were not interested.",
            "There was no one at the door to greet us.",
        ],
        ["Friendly, quick service.", "Wonderful staff.", "Attentive and kind waiters."],
        ["Rude, slow staff.", "Terrible service tonight.", "Staff were rude."],
    ),
    "price": (
        [
            "Very reasonable prices for such a central location.",
            "The portions are big and the bill was smaller than expected.",
            "The lunch menu is a bargain at twelve euros.",
            "Good value for money, even with drinks.",
        ],
        [
            "Twelve dollars for a small bowl of plain rice is a joke.",
            "They added a service charge without telling us.",
            "Far too expensive for what you get.",
            "The wine was marked up three times the shop price.",
        ],
        [
            "The bill was not as high as we feared.",
            "You will not find better value in town.",
            "There were no hidden charges on the bill.",
        ],
        [
            "The prices are not worth it.",
            "It is not cheap and the portions are tiny.",
            "There was no mention of the cover charge on the menu.",
        ],
        ["Great value for money.", "Cheap and cheerful.", "Fair prices."],
        ["Far too expensive.", "A total rip-off.", "Overpriced and small."],
    ),
    "delivery": (
        [
            "Our order was complete and exactly right.",
            "Delivery was smooth from start to finish.",
            "The rider arrived ten minutes early and the food was still hot.",
            "Everything came well packed and nothing had spilled.",
        ],
        [
            "The order arrived an hour late and stone cold.",
            "Half of the order was missing and the drinks had leaked.",
            "The rider left the bag at the wrong door.",
            "The app said delivered long before anything arrived.",
        ],
        [
            "Nothing was missing and it was never late.",
            "The food did not even have time to cool down.",
            "There was no wait at all.",
        ],
        [
            "The driver never called and the food was not warm.",
            "It was not the order we placed.",
            "There was no sign of the rider for an hour.",
        ],
        ["Fast, hot delivery.", "Quick delivery, well packed.", "Arrived early."],
        ["Late and cold.", "Order arrived very late.", "Missing items again."],
    ),
    "ambience": (
        [
            "The room is cosy, with soft music and candles on every table.",
            "The terrace has a lovely view over the harbour.",
            "It was calm enough to talk without raising our voices.",
            "The decor is simple, bright and welcoming.",
        ],
        [
            "The terrace was full of smoke from the next table.",
            "The music was so loud we had to shout.",
            "The tables were sticky and the floor was dirty.",
            "It was freezing inside all evening.",
        ],
        [
            "It was not crowded even on a Saturday night.",
            "The music was never too loud.",
            "There was no noise from the kitchen at all.",
        ],
        [
            "The room was not clean and it was not quiet either.",
            "There was no heating on a cold night.",
            "We could never hear each other over the music.",
        ],
        ["Cosy, charming place.", "Lovely quiet terrace.", "Beautiful room."],
        ["Noisy and cramped.", "Dirty tables everywhere.", "Far too loud."],
    ),
}
SENTIMENT_OPENERS = [
    "We came here for my sister's birthday and ordered a bit of everything to share.",
    "It was our first time here and we had a few questions about the menu.",
    "I checked the menu online before going, so I knew roughly what to expect.",
    "We were a group of four and split the bill evenly at the end.",
    "I had been looking forward to trying this place after a friend recommended the menu.",
    "We ordered on a rainy Sunday evening when nobody wanted to cook.",
    "My partner and I stopped by after work on a Friday.",
]
SENTIMENT_CLOSERS = (
    ["Highly recommend.", "A real treat.", "Five stars from me.", "We will be back.", "Lovely."],
    ["Never again.", "Such a letdown.", "Really disappointing.", "Would not recommend.", "Avoid."],
)
SENTIMENT_TOPICS = list(SENTIMENT)
SENTIMENT_SIZES = {"train": 600, "dev": 300, "test": 600}


SARCASM = ["Oh wonderful.", "Just brilliant.", "Great, just great.", "Well done, really.", "Sure."]


def sarcastic(rng: random.Random, topic: str) -> str:
    """A negative review in the words of a positive one: what word counts get wrong."""
    pos = SENTIMENT[topic][0]
    praise = " ".join(rng.sample(pos, rng.choice([1, 2])))
    cue = rng.choice(["if you like waiting an hour", "in our dreams", "or so the menu claims"])
    return f"{rng.choice(SARCASM)} {praise[:-1]}, {cue}."


def sentiment_review(rng: random.Random, topic: str, positive: bool, length: str, negated: bool):
    pos, neg, pos_not, neg_not, short_pos, short_neg = SENTIMENT[topic]
    if not positive and length != "short" and not negated and rng.random() < 0.15:
        return sarcastic(rng, topic)
    plain, negs = (pos, pos_not) if positive else (neg, neg_not)
    other = [t for t in SENTIMENT_TOPICS if t != topic]
    closer = rng.choice(SENTIMENT_CLOSERS[0 if positive else 1])
    if length == "short":
        parts = [rng.choice(short_pos if positive else short_neg)]
        if negated:
            parts = (
                [rng.choice(["Honestly not bad.", "No complaints."])]
                if positive
                else [rng.choice(["Not worth it.", "Food was not hot.", "No thanks."])]
            )
        if rng.random() < 0.5 and closer != "Would not recommend.":
            parts.append(closer)
        return " ".join(parts)
    count = 2 if length == "medium" else rng.choice([3, 4])
    sentences = rng.sample(plain, min(count, len(plain)))
    if negated:
        sentences[rng.randrange(len(sentences))] = rng.choice(negs)
    if length == "medium" and rng.random() < 0.5:
        sentences = sentences[:1]
    if length == "long":
        # A mixed review now and then: one aside about another topic, of the other polarity.
        if rng.random() < 0.3:
            aside_topic = SENTIMENT[rng.choice(other)]
            sentences.insert(1, rng.choice(aside_topic[1] if positive else aside_topic[0]))
        opener = rng.choice(SENTIMENT_OPENERS)
        sentences.insert(0, opener)
    return " ".join([*sentences, closer])


def sentiment_split(rng: random.Random, prefix: str, size: int) -> list[dict]:
    rows = []
    lengths = ["short"] * 3 + ["medium"] * 4 + ["long"] * 3
    for i in range(size):
        topic = SENTIMENT_TOPICS[i % len(SENTIMENT_TOPICS)]
        positive = (i // len(SENTIMENT_TOPICS)) % 2 == 0
        length = lengths[(i // 10) % len(lengths)]
        negated = rng.random() < 0.35
        for _ in range(50):
            text = sentiment_review(rng, topic, positive, length, negated)
            n = words(text)
            if (length == "short" and n < 10) or (length == "medium" and 10 <= n < 30):
                break
            if length == "long" and n >= 30:
                break
        rows.append({"text": text, "label": "positive" if positive else "negative", "topic": topic})
    rng.shuffle(rows)
    return numbered(prefix, rows)


def sentiment(root: Path) -> None:
    data = root / "sentiment-mini" / "data"
    for split, rows in split_rows("sentiment-mini", SENTIMENT_SIZES, sentiment_split):
        if split == "train":
            sink = io.StringIO()
            writer = csv.writer(sink, lineterminator="\n")
            writer.writerow(["id", "text", "label", "topic"])
            writer.writerows([r["id"], r["text"], r["label"], r["topic"]] for r in rows)
            data.mkdir(parents=True, exist_ok=True)
            (data / "train.csv").write_text(sink.getvalue(), encoding="utf-8")
        elif split == "test":
            # The hidden split gives labels as their index in the label list (both work).
            labels = ["negative", "positive"]
            write_jsonl(
                data / "test.jsonl", [{**r, "label": labels.index(r["label"])} for r in rows]
            )
        else:
            write_jsonl(data / f"{split}.jsonl", rows)


# ---------------------------------------------------------------------------------------------
# regression-mini: reviews of hotels, restaurants and apps with a 1-5 star rating.

# category: {aspect: sentences from awful (-2) to great (+2)}; a list per level.
ASPECTS = {
    "hotel": {
        "room": [
            ["The room was filthy and smelled of smoke."],
            ["The room was small and a bit worn.", "The room was not clean."],
            ["The room was fine for a night or two."],
            ["The room was clean and comfortable."],
            ["The room was spotless, quiet and beautifully furnished."],
        ],
        "staff": [
            ["The staff were rude from the moment we arrived.", "Nobody at the desk helped us."],
            ["The staff were polite enough but slow."],
            ["Check-in was quick."],
            ["The staff were friendly and quick to help."],
            ["The staff went out of their way to make our stay special."],
        ],
        "breakfast": [
            ["Breakfast was inedible."],
            ["Breakfast was cold and repetitive.", "There was no coffee left at breakfast."],
            ["Breakfast was ordinary."],
            ["Breakfast was fresh and plentiful."],
            ["Breakfast was the best we have ever had at a hotel."],
        ],
        "location": [
            ["The hotel is next to a motorway and the noise never stops."],
            ["The area is not very pleasant at night."],
            ["The location is convenient enough."],
            ["It is a short walk from the old town."],
            ["The view over the bay from the balcony is stunning."],
        ],
    },
    "restaurant": {
        "food": [
            ["The food was awful and made me ill."],
            ["The food was bland.", "The soup was not even warm."],
            ["The food was decent."],
            ["The food was tasty and well presented."],
            ["Every dish was a small masterpiece."],
        ],
        "service": [
            ["We waited an hour and nobody apologised."],
            ["Service was slow."],
            ["Service was okay."],
            ["Our waiter was attentive and kind."],
            ["The service was flawless from start to finish."],
        ],
        "price": [
            ["A total rip-off."],
            ["It is a little overpriced."],
            ["Prices are about average."],
            ["Good value for money."],
            ["Incredible value for food this good."],
        ],
    },
    "app": {
        "stability": [
            ["It crashes every time I open it."],
            ["It freezes now and then."],
            ["It mostly works."],
            ["It runs smoothly.", "It has never crashed on me."],
            ["It is fast and rock solid, even on my old phone."],
        ],
        "design": [
            ["The screens are a confusing mess."],
            ["The menus are not easy to find."],
            ["The design is plain but usable."],
            ["The design is clean and simple."],
            ["The design is beautiful and a joy to use."],
        ],
        "support": [
            ["Support never answered my emails."],
            ["Support took a week to reply."],
            ["I have not needed support yet."],
            ["Support answered within a day."],
            ["The support team fixed my problem within minutes."],
        ],
        "ads": [
            ["There is an advert after every tap."],
            ["The adverts are annoying."],
            ["There are a few adverts."],
            ["There are no adverts in the paid version."],
            ["No adverts, no tracking, no nonsense."],
        ],
    },
}
REGRESSION_OPENERS = ["Quick review.", "Tried it last week.", "Second visit.", "Honest review:"]
REGRESSION_LONG = {
    "hotel": [
        "We chose it after reading several reviews and comparing a few options.",
        "It was our first trip of the year and we had high hopes.",
        "We stayed three nights in the middle of the week for a family wedding.",
    ],
    "restaurant": [
        "A friend recommended it and I finally found the time to try it properly.",
        "We booked a table for six on a busy Saturday evening.",
        "We came for a long lunch on a quiet weekday.",
    ],
    "app": [
        "I have used it for about a month now, mostly on weekday evenings.",
        "I switched to it after my old app stopped getting updates.",
        "My whole team has been trying it out at work since the spring.",
    ],
}
REGRESSION_SIZES = {"train": 500, "dev": 250, "test": 500}


def regression_split(rng: random.Random, prefix: str, size: int) -> list[dict]:
    categories = list(ASPECTS)
    stars_values = [1 + 0.5 * k for k in range(9)]
    lengths = ["short", "medium", "long"]
    rows = []
    for i in range(size):
        category = categories[i % 3]
        stars = stars_values[(i // 3) % 9]
        length = lengths[(i // 27) % 3]
        aspects = list(ASPECTS[category])
        for _ in range(50):
            count = {"short": rng.choice([1, 2]), "medium": 3, "long": rng.choice([3, 4])}[length]
            chosen = rng.sample(aspects, min(count, len(aspects)))
            centre = (stars - 3) * 1.0
            parts = []
            for aspect in chosen:
                # Rounded up or down at random, now and then a level off: mixed feelings.
                jitter = rng.choices([-1, 0, 1], weights=[15, 70, 15])[0]
                level = max(-2, min(2, math.floor(centre + rng.random()) + jitter))
                parts.append(rng.choice(ASPECTS[category][aspect][level + 2]))
            if length == "long":
                parts.insert(0, rng.choice(REGRESSION_LONG[category]))
            elif length == "medium" and rng.random() < 0.6:
                parts.insert(0, rng.choice(REGRESSION_OPENERS))
            text = " ".join(parts)
            n = words(text)
            if {"short": n < 15, "medium": 15 <= n < 25, "long": n >= 25}[length]:
                break
        rows.append({"text": text, "stars": stars, "category": category})
    rng.shuffle(rows)
    return numbered(prefix, rows)


def regression(root: Path) -> None:
    write_splits(root, "regression-mini", REGRESSION_SIZES, regression_split)


# ---------------------------------------------------------------------------------------------
# ner-mini: tokenised sentences with PER, ORG and LOC entities in IOB2.

ORGS = [
    "Bluefield Energy", "Helix Bank", "Union Rail", "Riverside Hospital", "Pinecrest University",
    "Harbour Authority", "Meridian", "Northwind Airlines", "Copperleaf Foods", "Atlas Insurance",
    "Greenway Motors", "Silverline Media", "Orion Telecom", "Kestrel Pharma", "Summit Steel",
    "Lakeside Brewery", "the Harbour Authority", "Vantage Labs", "Redwood Partners", "Nexa",
    "Brightway", "Tidewater Shipping", "Falcon Logistics", "Crescent Hotels",
]  # fmt: skip
CLUBS = [
    "Northam Wanderers", "Caldwell City", "Dunmore Athletic", "Bramley United", "Ashby Rovers",
    "Glenrock Rangers", "Westcombe Town", "Redhill Harriers", "Ferndale Rugby Club",
    "Kingsmere Tigers", "Holloway Hawks", "Stonehaven Sharks",
]  # fmt: skip
PLACES = [
    "Cape Town", "Accra", "Lisbon", "Lyon", "Nairobi", "Kuala Lumpur", "Bergen", "Oslo",
    "Buenos Aires", "Hamburg", "Osaka", "Porto", "Montreal", "Kraków", "Valencia", "Chennai",
    "New Delhi", "Santiago", "Rotterdam", "Hanoi", "Tallinn", "Marseille", "Cork", "Perth",
]  # fmt: skip
# Templates by domain and entity count; slots {PER}, {ORG}, {LOC} (sports: {CLUB} is an ORG).
NER_TEMPLATES = {
    "news": {
        0: [
            "Nobody was hurt when the roof collapsed during the storm .",
            "Heavy rain is expected across the region later this week .",
            "The museum will stay closed until further notice .",
            "Police asked drivers to avoid the area while the road is repaired .",
            "Thousands of people queued overnight for tickets .",
        ],
        1: [
            "Flooding closed several roads around {LOC} overnight .",
            "{PER} was elected mayor with a large majority .",
            "{ORG} said it would cut prices next month .",
            "A new bridge will open in {LOC} next spring , officials said .",
            "{PER} won the national poetry prize on Friday .",
        ],
        2: [
            "{PER} arrived in {LOC} on Tuesday for two days of talks .",
            "{PER} and {PER} met to discuss the new treaty .",
            "Protesters gathered outside {ORG} in {LOC} on Sunday .",
            "{ORG} has warned of delays between {LOC} and {LOC} .",
            "{PER} thanked volunteers from {ORG} after the floods .",
        ],
        3: [
            "{PER} and {PER} met in {LOC} to discuss the new treaty .",
            "{ORG} said {PER} had visited the plant near {LOC} .",
            "{PER} flew from {LOC} to {LOC} after the summit .",
            "Officials from {ORG} and {ORG} inspected the damage in {LOC} .",
        ],
        4: [
            "{PER} told reporters in {LOC} that {ORG} and {ORG} would share the cost .",
            "{PER} , {PER} and {PER} signed the agreement in {LOC} on Monday .",
        ],
    },
    "business": {
        0: [
            "Shares fell sharply in early trading on Monday .",
            "Inflation rose for the third month in a row .",
            "The company said profits would be lower than expected .",
            "Analysts expect interest rates to stay on hold .",
        ],
        1: [
            "{ORG} reported record profits for the year .",
            "Shares of {ORG} rose after the results .",
            "{PER} stepped down as chair after ten years .",
            "House prices in {LOC} rose by four percent last year .",
        ],
        2: [
            "{ORG} agreed to buy {ORG} for an undisclosed sum .",
            "{PER} was named chief executive of {ORG} on Monday .",
            "{ORG} will open a new office in {LOC} next spring .",
            "Shares of {ORG} fell sharply after {PER} resigned .",
        ],
        3: [
            "{PER} , the founder of {ORG} , will move the company to {LOC} .",
            "{ORG} and {ORG} will build a factory near {LOC} .",
            "{ORG} hired {PER} and {PER} from a rival firm .",
        ],
        4: [
            "{ORG} said {PER} would lead its offices in {LOC} and {LOC} .",
            "{PER} sold her stake in {ORG} to {ORG} after talks in {LOC} .",
        ],
    },
    "sports": {
        0: [
            "The match was postponed because of a frozen pitch .",
            "Both teams struggled in the heat .",
            "The final will be played behind closed doors .",
            "Ticket prices for the season will rise again .",
        ],
        1: [
            "{PER} scored twice in the second half .",
            "{CLUB} were relegated after a heavy defeat .",
            "The marathon in {LOC} drew a record field .",
            "{PER} retired from international cricket on Thursday .",
        ],
        2: [
            "{PER} scored twice as {CLUB} won the final .",
            "{CLUB} beat {CLUB} in a tense derby .",
            "{PER} signed a three-year contract with {CLUB} .",
            "{CLUB} will play their home games in {LOC} next season .",
        ],
        3: [
            "{PER} and {PER} scored as {CLUB} won in {LOC} .",
            "{CLUB} beat {CLUB} in {LOC} to reach the semi-final .",
            "{PER} scored the winner for {CLUB} against {CLUB} .",
        ],
        4: [
            "{PER} and {PER} scored as {CLUB} beat {CLUB} in {LOC} .",
            "{PER} of {CLUB} was fined after the match against {CLUB} in {LOC} .",
        ],
    },
}
NER_TAILS = [
    ", a spokesperson said .",
    ", according to local reports .",
    ", the agency reported on Tuesday .",
    ", a statement said on its website .",
    ", two weeks after the plans were first announced in the local press .",
    ", although several questions about the timing remain unanswered .",
]
NER_SIZES = {"train": 500, "dev": 250, "test": 500}


def ner_row(rng: random.Random, domain: str, count: int) -> dict:
    template = rng.choice(NER_TEMPLATES[domain][count])
    if rng.random() < 0.35 and template.endswith(" ."):
        template = template[:-2] + " " + rng.choice(NER_TAILS)
    tokens, tags, entities = [], [], 0
    for token in template.split():
        slot = token if token.startswith("{") else None
        if slot is None:
            tokens.append(token)
            tags.append("O")
            continue
        kind, name = {
            "{PER}": ("PER", lambda: person(rng, 0.7)),
            "{ORG}": ("ORG", lambda: rng.choice(ORGS)),
            "{CLUB}": ("ORG", lambda: rng.choice(CLUBS)),
            "{LOC}": ("LOC", lambda: rng.choice(PLACES)),
        }[slot]
        parts = name().split()
        if parts[0] == "the":  # "the Harbour Authority": the article is outside the entity
            tokens.append(parts.pop(0))
            tags.append("O")
        for j, part in enumerate(parts):
            tokens.append(part)
            tags.append(("B-" if j == 0 else "I-") + kind)
        entities += 1
    if tokens[0] == "the":
        tokens[0] = "The"
    return {"tokens": tokens, "tags": tags, "domain": domain, "entities": entities}


def ner_split(rng: random.Random, prefix: str, size: int) -> list[dict]:
    domains = list(NER_TEMPLATES)
    counts = [0, 1, 1, 2, 2, 2, 3, 3, 4]
    rows = [ner_row(rng, domains[i % 3], counts[(i // 3) % len(counts)]) for i in range(size)]
    rng.shuffle(rows)
    return numbered(prefix, rows)


def ner(root: Path) -> None:
    write_splits(root, "ner-mini", NER_SIZES, ner_split)


# ---------------------------------------------------------------------------------------------
# qa-mini: paragraphs about made-up towns' festivals, rivers, bridges and museums; SQuAD v2
# style, about a third of the questions unanswerable.

QTYPES = ["what", "who", "when", "where", "which", "why", "how long", "how many", "how much"]


def number_words(n: int) -> str:
    return ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"][n - 1]


def qa_festival(rng: random.Random):
    town = rng.choice(TOWNS)
    kind = rng.choice(["Folk", "Jazz", "Film", "Kite", "Lantern", "Poetry", "Cheese", "Brass"])
    name = f"the {town} {kind} Festival"
    title = name[0].upper() + name[1:]
    month, month2 = rng.sample(["March", "May", "June", "July", "August", "September"], 2)
    year, year2 = rng.randint(1950, 1995), rng.randint(1996, 2020)
    founder = person(rng, 1.0)
    group = rng.choice(["fiddle players", "local painters", "students", "street musicians"])
    visitors = f"{rng.randint(2, 40)},{rng.choice(['000', '500'])}"
    days = number_words(rng.randint(2, 6))
    price = rng.randint(20, 140)
    place = rng.choice(["Market Square", "Castle Park", "the old harbour", "Mill Lane"])
    org = rng.choice(["Northern Arts Trust", "Friends of Music Society", "Town Heritage Board"])
    reason = rng.choice(
        ["the summer was too hot for the musicians", "the town hall needed repairs",
         "too many visitors came in the old month", "the harvest kept farmers busy"]
    )  # fmt: skip
    sentences = [
        (f"{title} takes place every {month}.", True),
        (f"It began in {year} as a small gathering of {group} organised by {founder}.", True),
        (f"Today it draws around {visitors} visitors over {days} days.", True),
        (f"A weekend pass costs {price} euros.", rng.random() < 0.6),
        (f"The main stage stands in {place}, next to the old market hall.", rng.random() < 0.6),
        (f"It moved to {month} from {month2} in {year2} because {reason}.", rng.random() < 0.6),
        (f"The festival is run by the {org}.", rng.random() < 0.6),
    ]
    has = [present for _, present in sentences]
    questions = [
        ("when", f"When does {name} take place?", [f"every {month}", month], True),
        ("when", f"When did {name} begin?", [str(year), f"in {year}"], True),
        ("who", f"Who organised the first {name[4:]}?", [founder], True),
        ("what", f"What did the first {name[4:]} bring together?", [group], True),
        ("how many", f"How many visitors does {name} draw?", [f"around {visitors}", visitors],
         True),
        ("how long", f"How long does {name} last?", [f"{days} days", f"over {days} days"], True),
        ("how much", f"How much does a weekend pass for {name} cost?", [f"{price} euros"],
         has[3]),
        ("where", f"Where does the main stage of {name} stand?",
         [f"in {place}, next to the old market hall", place], has[4]),
        ("why", f"Why did {name} move to {month}?", [f"because {reason}", reason], has[5]),
        ("which", f"Which organisation runs {name}?", [f"the {org}", org], has[6]),
        ("how much", f"How much does a day ticket for {name} cost?", [], False),
        ("who", f"Who headlined {name} in {year2}?", [], False),
    ]  # fmt: skip
    return "festival", [s for s, present in sentences if present], questions


def qa_river(rng: random.Random):
    river = "River " + rng.choice(["Brook", "Hale", "Tarn", "Wend", "Alder", "Coln", "Ouse"])
    source, mouth, weir_town = rng.sample(TOWNS, 3)
    km = rng.randint(15, 240)
    year, year2 = rng.randint(1900, 1990), rng.randint(1800, 1899)
    leader = person(rng, 1.0)
    depth = rng.randint(3, 30)
    tributary = "the " + rng.choice(["Lyde", "Kell", "Misk", "Dove", "Rother", "Sill"])
    species = rng.randint(8, 40)
    reason = rng.choice(
        ["the mills downstream needed a steady flow", "floods kept reaching the town",
         "the canal company wanted deeper water"]
    )  # fmt: skip
    sentences = [
        (f"The {river} rises in the hills above {source} and flows for {km} kilometres before "
         f"reaching the sea near {mouth}.", True),
        (f"Salmon returned to the river in {year} after a clean-up led by {leader}.", True),
        (f"At its mouth the river is {depth} metres deep.", rng.random() < 0.6),
        (f"Its main tributary is {tributary}.", rng.random() < 0.6),
        (f"A weir was built at {weir_town} in {year2} because {reason}.", rng.random() < 0.6),
        (f"The river is home to {species} species of fish.", rng.random() < 0.6),
    ]  # fmt: skip
    has = [present for _, present in sentences]
    questions = [
        ("where", f"Where does the {river} rise?",
         [f"in the hills above {source}", f"the hills above {source}"], True),
        ("how long", f"How long is the {river}?", [f"{km} kilometres"], True),
        ("which", f"Near which town does the {river} reach the sea?", [mouth], True),
        ("when", f"When did salmon return to the {river}?", [str(year), f"in {year}"], True),
        ("who", f"Who led the clean-up of the {river}?", [leader], True),
        ("how much", f"How much deeper is the {river} at its mouth than at its source?", [],
         False),
        ("what", f"What is the main tributary of the {river}?", [tributary], has[3]),
        ("why", f"Why was a weir built on the {river}?", [f"because {reason}", reason], has[4]),
        ("where", f"Where was a weir built on the {river}?", [f"at {weir_town}", weir_town],
         has[4]),
        ("how many", f"How many species of fish live in the {river}?", [str(species)], has[5]),
        ("which", f"Which fish were stocked in the {river} in the 1950s?", [], False),
        ("what", f"What depth does the {river} reach at its mouth?", [f"{depth} metres"], has[2]),
    ]  # fmt: skip
    return "river", [s for s, present in sentences if present], questions


def qa_bridge(rng: random.Random):
    town = rng.choice(TOWNS)
    name = f"the {town} Bridge"
    material = rng.choice(["iron", "steel", "stone", "oak", "concrete", "brick"])
    length = rng.randint(30, 900)
    engineer = person(rng, 1.0)
    year, year2 = rng.randint(1850, 1980), rng.randint(1990, 2022)
    cost = rng.randint(2, 90)
    river = "River " + rng.choice(["Brook", "Hale", "Tarn", "Wend", "Alder", "Coln"])
    opener = rng.choice(["Queen Victoria", "the mayor of " + town, person(rng, 1.0)])
    arches = rng.randint(2, 12)
    reason = rng.choice(
        ["cracks were found in its deck", "the traffic shook the old piers",
         "a new road bridge opened nearby"]
    )  # fmt: skip
    sentences = [
        (f"The {town} Bridge is {article(material)} {material} bridge that is {length} metres "
         "long.", True),
        (f"It was designed by the engineer {engineer} and completed in {year}.", True),
        (f"Cars were banned from it in {year2} because {reason}, and it is now used only by "
         "walkers and cyclists.", rng.random() < 0.6),
        (f"Building it cost {cost} million pounds.", rng.random() < 0.6),
        (f"It crosses the {river} on {arches} arches.", rng.random() < 0.6),
        (f"It was opened by {opener}.", rng.random() < 0.6),
    ]  # fmt: skip
    has = [present for _, present in sentences]
    questions = [
        ("what", f"What is {name} made of?", [material], True),
        ("how long", f"How long is {name}?", [f"{length} metres"], True),
        ("who", f"Who designed {name}?", [engineer, f"the engineer {engineer}"], True),
        ("when", f"When was {name} completed?", [str(year), f"in {year}"], True),
        ("why", f"Why were cars banned from {name}?", [f"because {reason}", reason], has[2]),
        ("when", f"When were cars banned from {name}?", [str(year2), f"in {year2}"], has[2]),
        ("how much", f"How much did it cost to build {name}?", [f"{cost} million pounds"],
         has[3]),
        ("which", f"Which river does {name} cross?", [f"the {river}", river], has[4]),
        ("how many", f"How many arches does {name} have?", [str(arches)], has[4]),
        ("who", f"Who opened {name}?", [opener], has[5]),
        ("where", f"Where does {name} cross the river?", [], False),
        ("how many", f"How many people cross {name} each day?", [], False),
    ]  # fmt: skip
    return "bridge", [s for s, present in sentences if present], questions


def qa_museum(rng: random.Random):
    town, found_near = rng.sample(TOWNS, 2)
    subject = rng.choice(["Clocks", "Toys", "Maps", "Glass", "Railways", "Textiles", "Coins"])
    name = f"the {town} Museum of {subject}"
    title = name[0].upper() + name[1:]
    year, year2 = rng.randint(1890, 2000), rng.randint(1850, 1990)
    building = rng.choice(["wool mill", "railway station", "school", "bank", "fire station"])
    items = f"{rng.randint(2, 60)},000"
    collector = person(rng, 1.0)
    price = rng.randint(4, 18)
    piece = rng.choice(
        ["a silver astronomical clock", "a painted rocking horse", "a map of the coast",
         "a blue glass bowl", "a steam locomotive"]
    )  # fmt: skip
    day = rng.choice(["Mondays", "Tuesdays", "Wednesdays"])
    reason = rng.choice(
        ["the volunteers clean the galleries", "school groups book the building",
         "the old heating is serviced"]
    )  # fmt: skip
    sentences = [
        (f"{title} opened in {year} in a former {building}.", True),
        (f"Its collection of more than {items} objects was started by {collector}.", True),
        (f"Entry costs {price} euros for adults and is free for children.", rng.random() < 0.6),
        (f"The best-known piece is {piece}, found near {found_near} in {year2}.",
         rng.random() < 0.6),
        (f"It closes on {day} because {reason}.", rng.random() < 0.6),
    ]  # fmt: skip
    has = [present for _, present in sentences]
    questions = [
        ("when", f"When did {name} open?", [str(year), f"in {year}"], True),
        ("what", f"What was the building of {name} before it became a museum?",
         [f"a former {building}", building], True),
        ("how many", f"How many objects does {name} hold?", [f"more than {items}", items], True),
        ("who", f"Who started the collection of {name}?", [collector], True),
        ("how much", f"How much does entry to {name} cost for adults?", [f"{price} euros"],
         has[2]),
        ("what", f"What is the best-known piece of {name}?", [piece], has[3]),
        ("where", f"Where was the best-known piece of {name} found?",
         [f"near {found_near}", found_near], has[3]),
        ("why", f"Why does {name} close on {day}?", [f"because {reason}", reason], has[4]),
        ("which", f"On which day does {name} close?", [day], has[4]),
        ("how long", f"How long does a guided tour of {name} last?", [], False),
        ("who", f"Who is the director of {name}?", [], False),
        ("why", f"Why did {name} move out of its first building?", [], False),
    ]  # fmt: skip
    return "museum", [s for s, present in sentences if present], questions


QA_TOPICS = [qa_festival, qa_river, qa_bridge, qa_museum]
QA_SIZES = {"train": 400, "dev": 200, "test": 500}


def qa_split(rng: random.Random, prefix: str, size: int) -> list[dict]:
    rows = []
    per_type = {qtype: 0 for qtype in QTYPES}
    unanswerable = 0
    i = 0
    while len(rows) < size:
        topic, sentences, questions = QA_TOPICS[i % len(QA_TOPICS)](rng)
        i += 1
        context = " ".join(sentences)
        rng.shuffle(questions)
        # Question types the split holds fewest of come first; a third unanswerable.
        questions.sort(key=lambda q: per_type[q[0]])
        taken = 0
        for qtype, question, answers, answerable in questions:
            if taken == 5 or len(rows) == size:
                break
            if not answerable and unanswerable > len(rows) / 3 + 1:
                continue
            if answerable and unanswerable < len(rows) / 3 - 1:
                continue
            answers = answers if answerable else []
            for answer in answers:
                assert answer in context, (answer, context)
            rows.append({"question": question, "context": context, "answers": answers,
                         "topic": topic, "qtype": qtype})  # fmt: skip
            per_type[qtype] += 1
            unanswerable += not answerable
            taken += 1
    return numbered(prefix, rows)


def qa(root: Path) -> None:
    write_splits(root, "qa-mini", QA_SIZES, qa_split)


# ---------------------------------------------------------------------------------------------
# summaries-mini: local news items with one-sentence summaries (two in some dev/test rows).


def news_council(rng: random.Random):
    town, street = rng.choice(TOWNS), rng.choice(["Church Street", "Harbour Road", "High Street"])
    plan = rng.choice(["a new cycle lane", "a car-free zone", "a covered market", "a skate park"])
    yes, no = rng.randint(9, 20), rng.randint(2, 8)
    chair, month = person(rng, 1.0), rng.choice(["June", "April", "October", "March"])
    base = [
        f"{town} town council voted on Thursday to build {plan} along {street}.",
        f"The proposal passed by {yes} votes to {no} after a long debate.",
        f"{chair}, who chairs the transport committee, said the change would make the centre "
        "safer and quieter.",
    ]
    extra = [
        f"Work is expected to start in {month}.",
        "Some shop owners said they had not been consulted.",
        "The cost will be shared with the regional government.",
        "A public meeting about the details will be held next month.",
        "Residents will be able to comment on the final design online.",
    ]
    refs = [
        f"{town} council voted {yes} to {no} to build {plan} on {street}.",
        f"{town} council approved {plan} on {street} by {yes} votes to {no}, with work due to "
        f"start in {month}.",
        f"Councillors in {town} backed {plan}.",
    ]
    return "council", base, extra, refs


def news_recall(rng: random.Random):
    company = rng.choice(["Brightway", "Copperleaf Foods", "Nexa", "Greenway Motors", "Helix"])
    product = rng.choice(["bike helmets", "baby monitors", "kettles", "jars of pesto", "chargers"])
    amount = f"{rng.randint(5, 400)},000"
    month = rng.choice(["September", "January", "May", "last summer"])
    fault = rng.choice(
        ["the buckle can break under light pressure", "the cable can overheat",
         "small pieces of glass may be inside", "the battery can swell"]
    )  # fmt: skip
    base = [
        f"{company} is recalling about {amount} {product} sold since {month}.",
        f"The company said {fault}.",
        "No injuries have been reported.",
    ]
    extra = [
        "Customers can return the product to any shop for a full refund.",
        "A helpline has been set up for worried customers.",
        "The safety regulator said it was watching the recall closely.",
        "Shares in the company fell slightly on the news.",
        "It is the second recall by the company this year.",
    ]
    refs = [
        f"{company} is recalling {amount} {product} because {fault}.",
        f"{company} recalls {product}.",
        f"About {amount} {product} sold by {company} since {month} are being recalled because "
        f"{fault}, though no injuries have been reported.",
    ]
    return "recall", base, extra, refs


def news_sport(rng: random.Random):
    home, away = rng.sample(CLUBS, 2)
    goals = rng.randint(2, 5)
    against = rng.randint(0, goals - 1)
    scorer, day = person(rng, 1.0), rng.choice(["Friday", "Saturday", "Tuesday"])
    base = [
        f"{home} beat {away} {goals}-{against} on {day} evening.",
        f"{scorer} opened the scoring after ten minutes and the home side never looked back.",
        f"The win lifts {home} to the top of the table.",
    ]
    extra = [
        f"{away} have now lost three games in a row.",
        "A crowd of more than five thousand watched the match.",
        "The referee was praised for keeping the game flowing.",
        "Both managers said the pitch had been in poor condition.",
        "The two sides meet again in the cup next month.",
    ]
    refs = [
        f"{home} beat {away} {goals}-{against} to go top of the table.",
        f"{home} won {goals}-{against}.",
        f"Goals led by {scorer} gave {home} a {goals}-{against} win over {away} that takes them "
        "to the top of the table.",
    ]
    return "sport", base, extra, refs


def news_weather(rng: random.Random):
    town, day = rng.choice(TOWNS), rng.choice(["Monday", "Thursday", "Saturday"])
    kind, detail = rng.choice(
        [("heavy snow", "up to 20 centimetres"), ("strong winds", "gusts of 90 km/h"),
         ("thick fog", "visibility below 50 metres"), ("heavy rain", "up to 60 millimetres")]
    )  # fmt: skip
    base = [
        f"Forecasters have issued a warning for {kind} in the {town} area from {day} morning, "
        f"with {detail} expected.",
        "Drivers are advised to avoid unnecessary journeys.",
    ]
    extra = [
        "Several schools may open late.",
        "The warning is expected to be lifted by the weekend.",
        "Trains on the coastal line may be cancelled at short notice.",
        "Farmers have been told to bring animals in from exposed fields.",
        "The council has put extra crews on standby.",
    ]
    refs = [
        f"A warning for {kind} is in place around {town} from {day}, with {detail} expected.",
        f"{kind.capitalize()} warning for {town}.",
        f"Forecasters warn of {kind} around {town} from {day} morning and advise drivers to "
        "avoid unnecessary journeys.",
    ]
    return "weather", base, extra, refs


def news_school(rng: random.Random):
    town, street = rng.choice(TOWNS), rng.choice(["Harbour Road", "Church Street", "Mill Lane"])
    pupils, head = rng.randint(60, 320), person(rng, 1.0)
    base = [
        f"Parents in {town} have been told that the primary school on {street} will close at "
        "the end of the school year.",
        f"Only {pupils} pupils are enrolled, half as many as ten years ago.",
    ]
    extra = [
        f"{head}, the head teacher, said staff would help every family find a new place.",
        "A meeting for parents will be held in the school hall.",
        "The building may be turned into a community centre.",
        "Some parents have started a petition to keep the school open.",
        "The nearest other school is three miles away.",
    ]
    refs = [
        f"A {town} primary school with {pupils} pupils will close at the end of the year.",
        f"{town} school to close.",
        f"The primary school on {street} in {town} will close this summer because only {pupils} "
        "pupils are enrolled, half as many as ten years ago.",
    ]
    return "school", base, extra, refs


NEWS = [news_council, news_recall, news_sport, news_weather, news_school]
SUMMARY_SIZES = {"train": 400, "dev": 250, "test": 450}


def summaries_split(rng: random.Random, prefix: str, size: int) -> list[dict]:
    several = prefix != "tr"  # dev and test rows: a list of one or two references
    lengths = ["short", "medium", "long"]
    rows = []
    for i in range(size):
        length = lengths[(i // 5) % 3]
        for _ in range(80):
            category, base, extra, refs = NEWS[i % len(NEWS)](rng)
            count = {"short": rng.randint(0, 2), "medium": rng.randint(1, 3),
                     "long": rng.randint(3, 5)}[length]  # fmt: skip
            source = " ".join([*base, *rng.sample(extra, count)])
            n = words(source)
            if {"short": n < 50, "medium": 50 <= n < 60, "long": n >= 60}[length]:
                break
        # References of every length: the usual sentence, a headline, a long one.
        first = refs[rng.choices([0, 1, 2], weights=[5, 2, 3])[0]]
        if several and rng.random() < 0.3:
            reference = [first, rng.choice([r for r in refs if r != first])]
        else:
            reference = [first] if several else first
        rows.append({"source": source, "reference": reference, "category": category})
    rng.shuffle(rows)
    return numbered(prefix, rows)


def summaries(root: Path) -> None:
    write_splits(root, "summaries-mini", SUMMARY_SIZES, summaries_split)


# ---------------------------------------------------------------------------------------------
# images-mini: 32x32 PNGs, a shape in the dominant colour on a tinted background.

IMAGE_SIZE = 32
IMAGE_SIZES = {"train": 450, "dev": 225, "test": 450}
COLOURS = ["red", "green", "blue"]
SHAPES = ["disc", "square", "ring", "stripes", "cross", "diamond"]


def png(width: int, height: int, rows: list[bytes]) -> bytes:
    """An 8-bit RGB PNG of `rows` (3 bytes a pixel), written with the standard library."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 on every row
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def inside(shape: str, x: int, y: int, cx: float, cy: float, r: float) -> bool:
    dx, dy = x + 0.5 - cx, y + 0.5 - cy
    if shape == "disc":
        return dx * dx + dy * dy <= r * r
    if shape == "square":
        return abs(dx) <= r * 0.85 and abs(dy) <= r * 0.85
    if shape == "ring":
        return (r * 0.55) ** 2 <= dx * dx + dy * dy <= r * r
    if shape == "stripes":
        return (x + y) // 4 % 2 == 0
    if shape == "cross":
        return (abs(dx) <= r * 0.35 or abs(dy) <= r * 0.35) and max(abs(dx), abs(dy)) <= r
    return abs(dx) + abs(dy) <= r  # diamond


def image(rng: random.Random, colour: str, brightness: str) -> bytes:
    channel = COLOURS.index(colour)
    if brightness == "light":
        strong, weak, back = rng.randint(190, 240), rng.randint(40, 110), rng.randint(205, 235)
    else:  # dark: close to grey, much harder
        strong, weak, back = rng.randint(80, 105), rng.randint(50, 70), rng.randint(40, 60)
    fore = tuple(strong if c == channel else weak + rng.randint(-8, 8) for c in range(3))
    tint = tuple(back + (12 if c == channel else 0) for c in range(3))
    shape = rng.choice(SHAPES)
    cx, cy = rng.uniform(12, 20), rng.uniform(12, 20)
    r = rng.uniform(9, 14)
    # A little noise in 8x8 blocks: not every patch alike, and the files stay small.
    noise = [rng.randint(-6, 6) for _ in range(16)]
    palette = [
        [bytes(max(0, min(255, v + jitter)) for v in base) for jitter in noise]
        for base in (tint, fore)
    ]
    rows = []
    for y in range(IMAGE_SIZE):
        row = b"".join(
            palette[inside(shape, x, y, cx, cy, r)][y // 8 * 4 + x // 8] for x in range(IMAGE_SIZE)
        )
        rows.append(row)
    return png(IMAGE_SIZE, IMAGE_SIZE, rows)


def images(root: Path) -> None:
    bundle = root / "images-mini"
    folder = bundle / "images"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)

    def images_split(rng: random.Random, prefix: str, size: int) -> list[dict]:
        # Colours balanced, three light patches for two dark ones, in no order by id.
        kinds = [(COLOURS[i % 3], "light" if (i // 3) % 5 < 3 else "dark") for i in range(size)]
        rng.shuffle(kinds)
        rows = []
        for i, (colour, brightness) in enumerate(kinds, 1):
            name = f"images/{prefix}-{i:04d}.png"
            (bundle / name).write_bytes(image(rng, colour, brightness))
            rows.append({"image": name, "label": colour, "brightness": brightness})
        return numbered(prefix, rows)

    write_splits(root, "images-mini", IMAGE_SIZES, images_split)


GENERATORS = {
    "sentiment-mini": sentiment,
    "regression-mini": regression,
    "ner-mini": ner,
    "qa-mini": qa,
    "summaries-mini": summaries,
    "images-mini": images,
}


def generate(root: Path = HERE) -> None:
    for write in GENERATORS.values():
        write(Path(root))


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
    generate(target)
    print(f"Wrote the demo data under {target}")
