"""Table-driven tests for the reply-text normaliser (wyoming_kokoro.text.normalize).

Each table is (input, expected) for one family of rules. Expected strings are what a listener
should hear, written the way misaki voices them (hyphenated letters such as "C-O" are read as
letters; "AM"/"PM" are spelled by misaki itself).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from wyoming_kokoro.text.normalize import normalize_text

DATA = Path(__file__).parent.parent / "data" / "intelligibility.tsv"


# ---------------------------------------------------------------------------------------------
# Ordinary prose must pass through untouched (case and words matter to misaki's tagger).
# ---------------------------------------------------------------------------------------------

PROSE = [
    "Sure! I've turned off the living room lights.",
    "I read the book yesterday, and now I read every night.",
    "They live near the venue where we saw the band play live.",
    "A is for apple, and m is a letter.",
    "Plan A or plan B?",
    "The US and the UK signed it.",
    "Don't worry, it's fine; really: nothing to do.",
    'He said "hello" and left.',
    "Is there anything else you'd like me to do?",
    "NASA launched a rocket.",
    "The HVAC, the USB port and the TV are on.",
    "Turn on the AC in the office.",
    "I'm sure Tom & Jerry agree.",
    "Email me at the usual address.",
    "This is the end",
    # Capital letters that are not Roman numerals here.
    "I think I can, and I will.",
    "MIX the paint.",
    "Rocky II is a film.",
    "Then Mark I think left.",
    "Medicare Part C and vitamin D.",
    "In IT we trust.",
]


@pytest.mark.parametrize("text", PROSE)
def test_ordinary_prose_is_unchanged(text: str) -> None:
    assert normalize_text(text) == text


# ---------------------------------------------------------------------------------------------
# Characters
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("It wasn’t me.", "It wasn't me."),
        ("‘Single’ and “double” quotes.", "'Single' and \"double\" quotes."),
        ("Wait...", "Wait\u2026"),
        ("Wait… now.", "Wait\u2026 now."),
        ("Lights\u00a0on.", "Lights on."),
        ("Zero\u200bwidth.", "Zerowidth."),
        ("１２ apples", "twelve apples"),
        ("Ｈｅｌｌｏ", "Hello"),
        ("fine – really", "fine \u2014 really"),
        ("fine -- really", "fine \u2014 really"),
        ("fine—really", "fine—really"),
        ("Acme™ and Brand®", "Acme and Brand"),
        ("  spaced   out  ", "spaced out"),
        ("Tab\tseparated", "Tab separated"),
    ],
)
def test_characters(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


# ---------------------------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Set it to 21.", "Set it to twenty-one."),
        ("It is 21.5 degrees.", "It is twenty-one point five degrees."),
        ("Increase by 0.5.", "Increase by zero point five."),
        ("Add .5 more.", "Add point five more."),
        ("It reads 3.05.", "It reads three point zero five."),
        ("It reads 1.0.", "It reads one point zero."),
        ("Floor -1.", "Floor minus one."),
        ("A change of +3.", "A change of plus three."),
        ("There are 1,250 steps.", "There are one thousand two hundred fifty steps."),
        ("Over 9,000!", "Over nine thousand!"),
        ("1,000,000 people", "one million people"),
        ("1\u202f000\u202f000 people", "one million people"),
        ("Rooms 1-3 are free.", "Rooms one to three are free."),
        ("Wait 10-15 minutes.", "Wait ten to fifteen minutes."),
        ("Wait 10–15 minutes.", "Wait ten to fifteen minutes."),
        ("Score 3-2.", "Score three to two."),
        ("COVID-19 rules.", "COVID-nineteen rules."),
        ("Add 1/2 of it.", "Add one half of it."),
        ("About 1/3 of the energy.", "About one third of the energy."),
        ("Use 3/4 of it.", "Use three quarters of it."),
        ("Use 2/3 of it.", "Use two thirds of it."),
        ("Use 5/8 of it.", "Use five eighths of it."),
        ("Take 1 1/2 of them.", "Take one and a half of them."),
        ("Take 2 3/4 of them.", "Take two and three quarters of them."),
        ("Rated 10/10.", "Rated ten out of ten."),
        ("A 50/50 chance.", "A fifty-fifty chance."),
        ("Open 24/7.", "Open twenty-four seven."),
        ("Add ½ cup.", "Add one half of a cup."),
        ("Add 1½ cups.", "Add one and a half cups."),
        ("Battery at 85%.", "Battery at eighty-five percent."),
        ("Down 5 %.", "Down five percent."),
        ("Between 5-10%.", "Between five to ten percent."),
        ("A -5% change.", "A minus five percent change."),
        ("On the 21st.", "On the twenty-first."),
        ("The 2nd and 3rd floors.", "The second and third floors."),
        ("The 100th time.", "The one hundredth time."),
        ("In 2025 we will.", "In twenty twenty-five we will."),
        ("Back in 1999, things changed.", "Back in nineteen ninety-nine, things changed."),
        ("Since 2005.", "Since two thousand five."),
        ("The year 2000.", "The year two thousand."),
        ("2024 was warm.", "twenty twenty-four was warm."),
        ("Built in 1850.", "Built in eighteen fifty."),
        ("From 2020 to 2025.", "From twenty twenty to twenty twenty-five."),
        ("The 2024-2025 season.", "The twenty twenty-four to twenty twenty-five season."),
        ("You walked 2048 steps.", "You walked two thousand forty-eight steps."),
        ("Only 1234 left.", "Only one thousand two hundred thirty-four left."),
        ("In the 1990s.", "In the nineteen nineties."),
        ("Back in the '80s.", "Back in the eighties."),
        ("In your 20s.", "In your twenties."),
        ("Since 500 BC.", "Since five hundred B-C."),
        ("It is 5 + 3 = 8.", "It is five plus three equals eight."),
        ("It is 5 - 3.", "It is five minus three."),
        ("It is 3 x 4.", "It is three times four."),
        ("It is 5*3.", "It is five times three."),
        ("It is 10 / 2.", "It is ten divided by two."),
        ("It's 2x faster.", "It's two times faster."),
        ("Resolution 1920x1080.", "Resolution one thousand nine hundred twenty by one thousand eighty."),
        ("Item #3.", "Item number three."),
        ("No. 5 please.", "number five please."),
        ("It takes ~20 minutes.", "It takes about twenty minutes."),
        ("Keep it < 5.", "Keep it less than five."),
        ("Keep it >= 10.", "Keep it at least ten."),
        ("It is ±2.", "It is plus or minus two."),
        ("It is 0.", "It is zero."),
    ],
)
def test_numbers(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Zip 02134.", "Zip zero two one three four."),
        ("The zip code is 02134.", "The zip code is zero two one three four."),
        ("Your PIN is 0042.", "Your PIN is zero zero four two."),
        ("Your code is 12345.", "Your code is one two three four five."),
        ("Your ID is 42.", "Your ID is four two."),
        ("Call 911.", "Call nine one one."),
        ("Call 0049 30 1234567.", "Call zero zero four nine, three zero, one two three four five six seven."),
        ("Call +49 30 1234567.", "Call plus four nine, three zero, one two three four five six seven."),
        ("Call (555) 123-4567.", "Call five five five, one two three, four five six seven."),
        ("Call 555-123-4567.", "Call five five five, one two three, four five six seven."),
        ("Call 030 1234567.", "Call zero three zero, one two three four five six seven."),
        ("Agent 007.", "Agent zero zero seven."),
        ("Serial 12345678901.", "Serial one two three four five six seven eight nine zero one."),
        ("Order 12 pizzas.", "Order twelve pizzas."),
        ("Call 2 people.", "Call two people."),
        ("Version v2.1.3 is out.", "Version two point one point three is out."),
        ("Update to v2.1.3 now.", "Update to version two point one point three now."),
        ("Update to v2 now.", "Update to version two now."),
        ("Running version 1.10.", "Running version one point ten."),
        ("Firmware 2.5 is new.", "Firmware two point five is new."),
        ("Update to 2025.3.1 now.", "Update to two thousand twenty-five point three point one now."),
        ("Release 1.2.03 now.", "Release one point two point zero three now."),
        ("Ping 192.168.1.10 now.", "Ping one nine two dot one six eight dot one dot one zero now."),
        ("Python 3.11 is fast.", "Python three point one one is fast."),
    ],
)
def test_identifiers_and_versions(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


# ---------------------------------------------------------------------------------------------
# Times, dates and durations
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("At 7:05 AM.", "At seven oh five AM."),
        ("At 7:05am.", "At seven oh five AM."),
        ("At 7:30 p.m. today.", "At seven thirty PM today."),
        ("It was 7 a.m. Then we left.", "It was seven AM. Then we left."),
        ("At 9:45 PM.", "At nine forty-five PM."),
        ("At 7 PM.", "At seven PM."),
        ("At 7pm.", "At seven PM."),
        ("At 7:00 AM.", "At seven AM."),
        ("At 12:00 PM.", "At noon."),
        ("At 12:00 AM.", "At midnight."),
        ("At 12:30 PM.", "At twelve thirty PM."),
        ("At 19:30.", "At nineteen thirty."),
        ("At 19:00.", "At nineteen hundred."),
        ("At 07:30.", "At seven thirty."),
        ("At 7:00.", "At seven o'clock."),
        ("At 00:00.", "At midnight."),
        ("At 24:00.", "At midnight."),
        ("At 00:30.", "At twelve thirty AM."),
        ("At 12:00.", "At noon."),
        ("At 12:00 noon.", "At twelve noon."),
        ("At 06:05.", "At six oh five."),
        ("At 19:30:15.", "At nineteen thirty and fifteen seconds."),
        ("At 7.30pm.", "At seven thirty PM."),
        ("From 2–4 PM.", "From two to four PM."),
        ("From 2-4 PM.", "From two to four PM."),
        ("Open 9am-5pm.", "Open nine AM to five PM."),
        ("From 9:00 to 17:00.", "From nine o'clock to seventeen hundred."),
        ("From 10:00–14:00.", "From ten o'clock to fourteen hundred."),
        ("From 8:30-9:15 AM.", "From eight thirty to nine fifteen AM."),
        ("John 3:16 says.", "John three sixteen says."),
        ("The ratio is 16:9.", "The ratio is sixteen:nine."),
    ],
)
def test_times(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("On 2025-03-04.", "On March fourth, twenty twenty-five."),
        (
            "On 2025-12-31T23:59:00Z.",
            "On December thirty-first, twenty twenty-five at twenty-three fifty-nine.",
        ),
        ("On 2025-03-04 10:30.", "On March fourth, twenty twenty-five at ten thirty."),
        ("On 03/04/2025.", "On March fourth, twenty twenty-five."),
        ("On 25/12/2025.", "On December twenty-fifth, twenty twenty-five."),
        ("On March 4th.", "On March fourth."),
        ("On March 4.", "On March fourth."),
        ("On June 30, 2025.", "On June thirtieth, twenty twenty-five."),
        ("On Jan. 5.", "On January fifth."),
        ("On Sept 3.", "On September third."),
        ("On 4 March 2025.", "On the fourth of March, twenty twenty-five."),
        ("On the 4th of July.", "On the fourth of July."),
        ("In March 2025.", "In March twenty twenty-five."),
        ("Mon-Fri only.", "Monday to Friday only."),
        ("See you Sat.", "See you Saturday."),
        ("Open Mon–Sat.", "Open Monday to Saturday."),
        ("May I help?", "May I help?"),
    ],
)
def test_dates(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A timer for 1h 30m.", "A timer for one hour and thirty minutes."),
        ("A timer for 1h30m.", "A timer for one hour and thirty minutes."),
        ("Takes 2 h 15 min.", "Takes two hours and fifteen minutes."),
        ("Takes 5m 30s.", "Takes five minutes and thirty seconds."),
        ("Takes 1h 5m 10s.", "Takes one hour, five minutes and ten seconds."),
        ("Timer 01:30:00.", "Timer one hour and thirty minutes."),
        ("Timer: 05:00.", "Timer: five minutes."),
        ("05:00 remaining.", "five minutes remaining."),
        ("0:02:30 left.", "two minutes and thirty seconds left."),
        ("For 01:00:00.", "For one hour."),
        ("Book for 10:30.", "Book for ten thirty."),
        ("Takes 2h.", "Takes two hours."),
        ("Takes 30 min.", "Takes thirty minutes."),
        ("Takes 45 s.", "Takes forty-five seconds."),
        ("Takes 1 sec.", "Takes one second."),
        ("Takes 5 ms.", "Takes five milliseconds."),
    ],
)
def test_durations(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


# ---------------------------------------------------------------------------------------------
# Units and currency
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("It's -5°C outside.", "It's minus five degrees Celsius outside."),
        ("It's −5 °C outside.", "It's minus five degrees Celsius outside."),
        ("It's 21.5°C.", "It's twenty-one point five degrees Celsius."),
        ("It's 1°C.", "It's one degree Celsius."),
        ("It's 23.4 ℃.", "It's twenty-three point four degrees Celsius."),
        ("It's 21ºC.", "It's twenty-one degrees Celsius."),
        ("It's 70°F.", "It's seventy degrees Fahrenheit."),
        ("It's -3.5 °F.", "It's minus three point five degrees Fahrenheit."),
        ("It's +3°C.", "It's plus three degrees Celsius."),
        ("Turn it 45°.", "Turn it forty-five degrees."),
        ("From -5 to -10°C.", "From minus five to minus ten degrees Celsius."),
        ("Between -5 and 10 °C.", "Between minus five and ten degrees Celsius."),
        ("Highs of 5-10°C.", "Highs of five to ten degrees Celsius."),
        ("It's ±2°C.", "It's plus or minus two degrees Celsius."),
        ("It used 1 kWh.", "It used one kilowatt hour."),
        ("It used 12.4 kWh.", "It used twelve point four kilowatt hours."),
        ("It used 1.0 kWh.", "It used one point zero kilowatt hours."),
        ("It used 0.5 kWh.", "It used zero point five kilowatt hours."),
        ("It used 3 MWh.", "It used three megawatt hours."),
        ("It used 800 Wh.", "It used eight hundred watt hours."),
        ("It draws 2 kW.", "It draws two kilowatts."),
        ("It draws 1 W.", "It draws one watt."),
        ("It draws 100 W.", "It draws one hundred watts."),
        ("It draws 1,500W.", "It draws one thousand five hundred watts."),
        ("It runs at 230 V.", "It runs at two hundred thirty volts."),
        ("It draws 10 A.", "It draws ten amps."),
        ("It draws 500 mA.", "It draws five hundred milliamps."),
        ("It holds 5000 mAh.", "It holds five thousand milliamp hours."),
        ("Wind at 15 km/h.", "Wind at fifteen kilometers per hour."),
        ("Wind at 30 mph.", "Wind at thirty miles per hour."),
        ("Wind at 3 m/s.", "Wind at three meters per second."),
        ("It's 5 mm.", "It's five millimeters."),
        ("It's 1 cm.", "It's one centimeter."),
        ("It's 100 m away.", "It's one hundred meters away."),
        ("It's 3 km away.", "It's three kilometers away."),
        ("It's 6 ft tall.", "It's six feet tall."),
        ("It's 1 ft.", "It's one foot."),
        ("It weighs 2 g.", "It weighs two grams."),
        ("It weighs 1.0 kg.", "It weighs one point zero kilograms."),
        ("It weighs 5 lbs.", "It weighs five pounds."),
        ("It weighs 1 lb.", "It weighs one pound."),
        ("It weighs 8 oz.", "It weighs eight ounces."),
        ("Add 250 ml.", "Add two hundred fifty milliliters."),
        ("Add 2 L.", "Add two liters."),
        ("Add 3/4 cup.", "Add three quarters of a cup."),
        ("Add 1/2 kg.", "Add one half of a kilogram."),
        ("Add 2 1/2 cups.", "Add two and a half cups."),
        ("Add 1 tbsp.", "Add one tablespoon."),
        ("CO2 at 800 ppm.", "C-O two at eight hundred parts per million."),
        ("PM2.5 at 12 µg/m³.", "P-M two point five at twelve micrograms per cubic meter."),
        ("Pressure 1013 hPa.", "Pressure one thousand thirteen hectopascals."),
        ("Noise 60 dB.", "Noise sixty decibels."),
        ("It has 16 GB.", "It has sixteen gigabytes."),
        ("It has 500 MB.", "It has five hundred megabytes."),
        ("Grid at 50 Hz.", "Grid at fifty hertz."),
        ("Humidity 45 %RH.", "Humidity forty-five percent relative humidity."),
        ("Rain 2.5 mm/h.", "Rain two point five millimeters per hour."),
        ("Flow 12 L/min.", "Flow twelve liters per minute."),
        ("Solar 800 W/m².", "Solar eight hundred watts per square meter."),
        ("An area of 50 m².", "An area of fifty square meters."),
        ("Set to 2700K.", "Set to two thousand seven hundred kelvin."),
        ("A 20x30 cm frame.", "A twenty by thirty centimeters frame."),
        ("Send 5 A-level students.", "Send five A-level students."),
        ("I have 2 m.", "I have two meters."),
        ("Turn on 2 lights.", "Turn on two lights."),
        ("Use 2 AA batteries.", "Use two AA batteries."),
    ],
)
def test_units(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("It costs $1,250.50.", "It costs one thousand two hundred fifty dollars and fifty cents."),
        ("It costs $1.", "It costs one dollar."),
        ("It costs $1.00.", "It costs one dollar."),
        ("It costs $0.99.", "It costs ninety-nine cents."),
        ("It costs $2.01.", "It costs two dollars and one cent."),
        ("It costs €3.", "It costs three euros."),
        ("It costs 5€.", "It costs five euros."),
        ("It costs 5 €.", "It costs five euros."),
        ("It costs 5,50 €.", "It costs five euros and fifty cents."),
        ("It costs £3.50.", "It costs three pounds and fifty pence."),
        ("It costs ¥1000.", "It costs one thousand yen."),
        ("It costs 20 USD.", "It costs twenty dollars."),
        ("It costs EUR 20.", "It costs twenty euros."),
        ("It costs $5M.", "It costs five million dollars."),
        ("It costs $1.5 billion.", "It costs one point five billion dollars."),
        ("It costs $10k.", "It costs ten thousand dollars."),
        ("A refund of -$20.", "A refund of minus twenty dollars."),
        ("Power costs €0.30/kWh.", "Power costs thirty cents per kilowatt hour."),
        ("Power costs $0.125/kWh.", "Power costs zero point one two five dollars per kilowatt hour."),
        ("Power costs 24.5p/kWh.", "Power costs twenty-four point five pence per kilowatt hour."),
        ("Power costs 30 ct/kWh.", "Power costs thirty cents per kilowatt hour."),
        ("It costs $5/month.", "It costs five dollars per month."),
        ("Echo $HOME here.", "Echo $HOME here."),
    ],
)
def test_currency(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


# ---------------------------------------------------------------------------------------------
# Abbreviations, acronyms, symbols
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dr. Smith is in.", "Doctor Smith is in."),
        ("Ask Dr. Smith.", "Ask Doctor Smith."),
        ("Dr Smith is in.", "Doctor Smith is in."),
        ("I live on Oak Dr.", "I live on Oak Drive."),
        ("Turn onto Park Dr. The house is left.", "Turn onto Park Drive. The house is left."),
        ("Visit St. Louis.", "Visit Saint Louis."),
        ("On St. Patrick's Day.", "On Saint Patrick's Day."),
        ("It's on Main St.", "It's on Main Street."),
        ("It's on Main St. near the park.", "It's on Main Street near the park."),
        ("It's on 5th St.", "It's on fifth Street."),
        ("Baker St is busy.", "Baker Street is busy."),
        ("Mr. Jones and Mrs. Smith.", "Mister Jones and Missus Smith."),
        ("Ms. Lee called.", "Miz Lee called."),
        ("Prof. Jones spoke.", "Professor Jones spoke."),
        ("On Fifth Ave.", "On Fifth Avenue."),
        ("On Elm Rd. today.", "On Elm Road today."),
        ("John Smith Jr. called.", "John Smith Junior called."),
        ("Acme Inc. called.", "Acme Incorporated called."),
        ("Fruit, e.g. apples.", "Fruit, for example, apples."),
        ("Fruit, e.g., apples.", "Fruit, for example, apples."),
        ("The main one, i.e. the kitchen.", "The main one, that is, the kitchen."),
        ("Lights, fans, etc.", "Lights, fans, et cetera."),
        ("Lights, fans, etc. are on.", "Lights, fans, et cetera are on."),
        ("Cats vs. dogs.", "Cats versus dogs."),
        ("It takes approx. 5 minutes.", "It takes approximately five minutes."),
        ("Coffee w/ milk.", "Coffee with milk."),
        ("Coffee w/o sugar.", "Coffee without sugar."),
    ],
)
def test_abbreviations(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CO2 is high.", "C-O two is high."),
        ("The CO alarm.", "The C-O alarm."),
        ("NO2 and SO2 levels.", "N-O two and S-O two levels."),
        ("PM10 is fine.", "P-M ten is fine."),
        ("Ask HA to do it.", "Ask H-A to do it."),
        ("Edit the JSON file.", "Edit the Jason file."),
        ("Edit the YAML file.", "Edit the yaml file."),
        ("In C# and F#.", "In C sharp and F sharp."),
        ("ESP32 and Zigbee2MQTT work.", "ESP32 and Zigbee2MQTT work."),
        ("A 4K TV with 5G.", "A 4K TV with 5G."),
        ("The NOx sensor.", "The N-O-X sensor."),
        ("HAPPY days.", "HAPPY days."),
        ("COVID rules.", "COVID rules."),
    ],
)
def test_acronyms(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tom & Jerry.", "Tom & Jerry."),
        ("Turn it on/off.", "Turn it on or off."),
        ("Lights and/or fans.", "Lights and/or fans."),
        ("Kitchen | 21 | on", "Kitchen, twenty-one, on"),
        ("Kitchen • Bedroom", "Kitchen, Bedroom"),
        ("Motion -> lights on.", "Motion to lights on."),
        ("Motion → lights on.", "Motion to lights on."),
        ("Copyright © Acme.", "Copyright copyright Acme."),
    ],
)
def test_symbols(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


# ---------------------------------------------------------------------------------------------
# Web addresses and Home Assistant names
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("See https://www.example.com.", "See example dot com."),
        ("See https://example.com/docs today.", "See example dot com slash docs today."),
        ("See https://example.com/a/b?x=1#top.", "See example dot com slash a slash b."),
        (
            "See https://example.com/very/long/path/with/segments.",
            "See example dot com.",
        ),
        ("See www.home-assistant.io/docs.", "See home assistant dot I-O slash docs."),
        ("See (https://example.org).", "See (example dot org)."),
        ("Open http://homeassistant.local:8123.", "Open homeassistant dot local port eight one two three."),
        ("Open homeassistant.local:8123 now.", "Open homeassistant dot local port eight one two three now."),
        (
            "Open http://192.168.1.10:8123.",
            "Open one nine two dot one six eight dot one dot one zero port eight one two three.",
        ),
        ("Visit example.com now.", "Visit example dot com now."),
        ("Visit bbc.co.uk now.", "Visit bbc dot co dot U-K now."),
        ("Mail name@example.com.", "Mail name at example dot com."),
        ("Mail john.doe@mail.example.org now.", "Mail john dot doe at mail dot example dot org now."),
        ("Mail bob99@example.com.", "Mail bob nine nine at example dot com."),
        ("Turn on light.kitchen_ceiling.", "Turn on light kitchen ceiling."),
        ("Call light.turn_on now.", "Call light turn on now."),
        ("Check binary_sensor.front_door.", "Check binary sensor front door."),
        ("Check sensor.temperature_2.", "Check sensor temperature two."),
        ("Edit configuration.yaml now.", "Edit configuration dot yaml now."),
        ("Edit secrets.yaml.", "Edit secrets dot yaml."),
        ("Run script.py now.", "Run script dot P-Y now."),
        ("Read home-assistant.log now.", "Read home assistant dot log now."),
        ("The snake_case_name here.", "The snake case name here."),
        ("I went home.It was late.", "I went home.It was late."),
        ("Is it 5.It is.", "Is it five.It is."),
    ],
)
def test_web_and_entities(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


# ---------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("This is **bold** text.", "This is bold text."),
        ("This is __bold__ text.", "This is bold text."),
        ("This is *italic* text.", "This is italic text."),
        ("This is _italic_ text.", "This is italic text."),
        ("This is ***both*** text.", "This is both text."),
        ("This is **_nested_** text.", "This is nested text."),
        ("This is ~~gone~~ text.", "This is gone text."),
        ("Use `light.turn_on` here.", "Use light turn on here."),
        ("See [the docs](https://example.com/docs).", "See the docs."),
        ('See [the docs](https://example.com "Docs").', "See the docs."),
        ("See ![a chart](chart.png).", "See a chart."),
        ("See [the docs][1].", "See the docs."),
        ("See <https://example.com>.", "See example dot com."),
        ("Line one<br>line two", "Line one line two"),
        ("Say <b>hi</b> now.", "Say hi now."),
        ("Salt &amp; pepper.", "Salt & pepper."),
        (r"Literal \*stars\* here.", "Literal *stars* here."),
        ("# Weather", "Weather."),
        ("## Today's weather ##", "Today's weather."),
        ("### Done!", "Done!"),
        ("- Lights off\n- Door locked", "Lights off. Door locked."),
        ("* Lights off\n* Door locked", "Lights off. Door locked."),
        ("+ Lights off", "Lights off."),
        ("• Lights off\n• Door locked", "Lights off. Door locked."),
        ("1. Turn off the lights\n2. Lock the door", "Turn off the lights. Lock the door."),
        ("1) First\n2) Second", "First. Second."),
        ("- Item one,\n- Item two", "Item one. Item two."),
        ("- **Kitchen:** on\n- **Bedroom:** off", "Kitchen: on. Bedroom: off."),
        ("- Done!\n- Really?", "Done! Really?"),
        ("Here are the steps:\n- Open it\n- Close it", "Here are the steps: Open it. Close it."),
        ("Here are the steps\n- Open it", "Here are the steps. Open it."),
        ("- Lights are off in\n  the kitchen", "Lights are off in the kitchen."),
        ("First paragraph\n\nSecond paragraph", "First paragraph. Second paragraph"),
        ("A sentence that\ncontinues here.", "A sentence that continues here."),
        ("Kitchen: on\nBedroom: off", "Kitchen: on. Bedroom: off"),
        ("> Quoted text\n> more", "Quoted text more"),
        ("Above\n\n---\n\nBelow", "Above. Below"),
        (
            "| Room | Temp |\n|---|---|\n| Kitchen | 21.5 °C |\n| Bedroom | 19 °C |",
            "Room, Temp. Kitchen, twenty-one point five degrees Celsius. Bedroom, nineteen degrees Celsius.",
        ),
        (
            "| Room | State |\n| :--- | ---: |\n| Hall | on |",
            "Room, State. Hall, on.",
        ),
        (
            "Use this:\n```yaml\nservice: light.turn_on\ntarget:\n  entity_id: light.kitchen\n```\nDone.",
            "Use this: service: light turn on. target: entity id: light kitchen. Done.",
        ),
        ("```\n{\n}\n```", ""),
        ("5 * 3 * 2", "five times three times two"),
        ("2*3*4", "two times three times four"),
    ],
)
def test_markdown(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


# ---------------------------------------------------------------------------------------------
# Emoji
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Good morning ☀️!", "Good morning!"),
        ("Done ✅", "Done"),
        ("✅ Done", "Done"),
        ("Family 👨‍👩‍👧 time.", "Family time."),
        ("Go 🇩🇪 go.", "Go go."),
        ("Nice 👍🏽.", "Nice."),
        ("Press 1️⃣ now.", "Press one now."),
        ("I ❤ it.", "I it."),
        ("- 💡 Lights off\n- 🔒 Door locked", "Lights off. Door locked."),
        ("🎉", ""),
    ],
)
def test_emoji_is_skipped(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Good morning ☀️!", "Good morning black sun with rays!"),
        ("Done ✅", "Done white heavy check mark"),
        ("Family 👨‍👩‍👧 time.", "Family man woman girl time."),
        ("Go 🇩🇪 go.", "Go flag D-E go."),
        ("Nice 👍🏽.", "Nice thumbs up sign."),
    ],
)
def test_emoji_is_spoken_on_request(text: str, expected: str) -> None:
    assert normalize_text(text, speak_emoji=True) == expected


# ---------------------------------------------------------------------------------------------
# Languages
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("It costs £1,250.", "It costs one thousand two hundred and fifty pounds."),
        ("It is 101 m away.", "It is one hundred and one metres away."),
        ("Add 2 L.", "Add two litres."),
        ("It is 5 km/h.", "It is five kilometres per hour."),
        ("On 03/04/2025.", "On the third of April, twenty twenty-five."),
        ("On 2025-03-04.", "On the fourth of March, twenty twenty-five."),
        ("On March 4.", "On March the fourth."),
        ("In 2005.", "In two thousand and five."),
        ("At 7:05 AM.", "At seven oh five AM."),
    ],
)
def test_british_english(text: str, expected: str) -> None:
    assert normalize_text(text, "en-gb") == expected


@pytest.mark.parametrize("language", ["es", "fr", "hi", "it", "pt-br", "ja", "zh"])
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("## Hola\n- **Temperatura:** 21 °C ☀️", "Hola. Temperatura: 21 °C."),
        ("Cuesta 3 € y l’eau — “bien”.", 'Cuesta 3 € y l\'eau — "bien".'),
        ("Son las 7:05 y hace -5°C.", "Son las 7:05 y hace -5°C."),
        ("Dr. Smith, CO2, 50%, light.kitchen.", "Dr. Smith, CO2, 50%, light.kitchen."),
        ("今日は「晴れ」です。気温は２１度です 😀", "今日は「晴れ」です。気温は２１度です"),
    ],
)
def test_other_languages_get_only_language_independent_cleanup(
    language: str, text: str, expected: str
) -> None:
    assert normalize_text(text, language) == expected


def test_other_languages_never_get_emoji_names() -> None:
    assert normalize_text("Bonjour ☀️", "fr", speak_emoji=True) == "Bonjour"


# ---------------------------------------------------------------------------------------------
# Nothing is silently dropped; output is stable
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Value 1e6 here.",
        "Unknown ⌘ key.",
        "Path C:\\temp\\x.",
        "Regex ^a+$ here.",
        "Weird 12abc34 token.",
        "Hash #tag here.",
        "A ½ glyph.",
    ],
)
def test_unknown_constructs_keep_their_text(text: str) -> None:
    """Whatever the rules do not understand must still reach misaki/espeak."""
    out = normalize_text(text)
    for word in re.findall(r"[A-Za-z]{3,}", text):
        assert word in out


@pytest.mark.parametrize(
    "text",
    [
        "It's -5°C, 30% rain, wind 15 km/h.",
        "Your timer for 1h 30m started at 7:05 PM on 2025-03-04.",
        "- **Solar:** 12.4 kWh\n- Grid: €0.30/kWh",
        "Visit https://example.com or light.kitchen_ceiling.",
    ],
)
def test_normalizing_twice_changes_nothing(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once


def test_empty_and_whitespace() -> None:
    assert normalize_text("") == ""
    assert normalize_text("   \n\n  ") == ""


# ---------------------------------------------------------------------------------------------
# The intelligibility sentence set
# ---------------------------------------------------------------------------------------------

CATEGORIES = {
    "weather",
    "energy",
    "timers",
    "calendar",
    "device_state",
    "numbers",
    "currency",
    "units",
    "abbreviations",
    "llm_markdown",
    "urls_entities",
}


def _rows() -> list[dict[str, str]]:
    with DATA.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def _plain_words(text: str) -> str:
    """How a transcript is compared: lowercase words, no punctuation, hyphens as spaces."""
    text = text.lower().replace("-", " ").replace("\u2014", " ")
    text = re.sub(r"[^\w\s']", " ", text)
    text = re.sub(r"(?<!\w)'|'(?!\w)", " ", text)
    return " ".join(text.split())


def test_intelligibility_set_is_well_formed() -> None:
    rows = _rows()
    assert len(rows) >= 60
    assert {r["category"] for r in rows} == CATEGORIES
    for row in rows:
        assert row["text"].strip() and row["expected_spoken"].strip()
        assert row["expected_spoken"] == _plain_words(row["expected_spoken"])
        assert not re.search(r"\d", row["expected_spoken"]), row


@pytest.mark.parametrize("row", _rows(), ids=lambda r: r["text"][:40])
def test_intelligibility_set_matches_normalizer(row: dict[str, str]) -> None:
    """The expected reading is what the normaliser produces, minus punctuation."""
    text = row["text"].replace("\\n", "\n")
    assert _plain_words(normalize_text(text)) == row["expected_spoken"]


@pytest.mark.parametrize(
    ("text", "expected_start"),
    [
        ("$" + "9" * 5000 + ".50", "nine nine nine"),
        ("9" * 5000 + "th", "9999"),
        ("v1." + "2" * 5000, "version one point two two"),
        ("9" * 5000 + "h 5m", "nine nine nine"),
        ("*a " * 500, "*a *a"),
        ("[a](" * 500, "[a]([a]("),
        ("a\n" * 500, "a a a"),
    ],
)
def test_pathological_input_is_handled(text: str, expected_start: str) -> None:
    """Huge numbers and unbalanced markup neither raise nor lose their content."""
    out = normalize_text(text)
    assert out.startswith(expected_start)
    assert len(out) >= len(text.split()) // 2


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("?!" * 500, "en-us", "?!"),
        ("\u2014" * 500, "en-us", "\u2014"),
        ("No!!! Really??", "en-us", "No! Really??"),
        ("Really?!", "en-us", "Really?!"),
        ("! " * 300, "en-us", "!"),
        (", , , , ,", "en-us", ","),
        ("Hmm.....", "en-us", "Hmm\u2026"),
        ("Wait... what?", "en-us", "Wait\u2026 what?"),
        ("Wait... what?", "fr", "Wait... what?"),
        ("Quoi ?!?!?!", "fr", "Quoi ?!"),
        ("\uff01" * 50, "ja", "\uff01"),
        ("x!?!?!y", "es", "x!?y"),
    ],
)
def test_runs_of_punctuation_are_spoken_as_one_mark(text: str, language: str, expected: str) -> None:
    """The model voices each mark as a pause or a tone: a run would be seconds of silence (and
    frames to compute) where a reader hears one mark. Two marks, and an ellipsis, are kept."""
    assert normalize_text(text, language) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Digit groups joined by dashes are read digit by digit: phone numbers, codes, orders.
        ("My number is 555-0142.", "My number is five five five, zero one four two."),
        ("Call 1-800-555-0199.", "Call one, eight zero zero, five five five, zero one nine nine."),
        ("Order 2024-0042 shipped.", "Order two zero two four, zero zero four two shipped."),
        ("Part 0-3-134 fits.", "Part zero, three, one three four fits."),
        ("Ticket 123-456-789.", "Ticket one two three, four five six, seven eight nine."),
        # ... unless the context makes them a range: small numbers, a word before, a quantity after.
        ("It takes 5-10 minutes.", "It takes five to ten minutes."),
        ("The score was 3-2.", "The score was three to two."),
        ("From 9-5 on weekdays.", "From nine to five on weekdays."),
        ("Pages 101-120 are missing.", "Pages one hundred one to one hundred twenty are missing."),
        ("Between 100-200 people came.", "Between one hundred to two hundred people came."),
        ("Set it to 120-150%.", "Set it to one hundred twenty to one hundred fifty percent."),
        ("It is 100-200 km away.", "It is one hundred to two hundred kilometers away."),
        ("In 2019-2021 we moved.", "In twenty nineteen to twenty twenty-one we moved."),
    ],
)
def test_dashed_digit_groups_are_read_by_context(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Henry VIII had six wives.", "Henry the eighth had six wives."),
        ("Queen Elizabeth II died in 2022.", "Queen Elizabeth the second died in twenty twenty-two."),
        ("Pope John Paul II visited.", "Pope John Paul the second visited."),
        ("Louis XIV, the Sun King.", "Louis the fourteenth, the Sun King."),
        ("Charles III's coronation.", "Charles the third's coronation."),
        ("It ended with Elizabeth I.", "It ended with Elizabeth the first."),
        ("World War II ended in 1945.", "World War two ended in nineteen forty-five."),
        ("World War I began.", "World War one began."),
        ("Chapter IV begins here.", "Chapter four begins here."),
        ("Super Bowl LVIII was close.", "Super Bowl fifty-eight was close."),
        ("Type II diabetes.", "Type two diabetes."),
        ("Apollo XI landed.", "Apollo eleven landed."),
    ],
)
def test_roman_numerals_after_a_name_or_a_counted_noun(text: str, expected: str) -> None:
    assert normalize_text(text) == expected
