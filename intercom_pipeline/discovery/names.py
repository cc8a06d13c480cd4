"""Person names without a list of names: the shape of a written name, and what points at a person.

A list of given names and surnames finds only the names it holds: customers whose names are not on
it go unseen, and a test fake drawing its names from the same list would make the detector look
perfect. So this module knows no names. It knows
- how a written name looks: two to four words, each a capitalised run of letters in any script,
  with hyphens and apostrophes ("Zoë Łukasiewicz-Ærøskøbing", "Siobhán Ní Bhriain", "O'Brien"),
  lower-case particles inside ("Ludwig van Beethoven"), or words of a script without letter case
  ("渡辺 さくら", "王伟"); no digits, "@", "/" or ":";
- words that make a look-alike an organisation or a product ("Blue River Labs", "Enterprise Plus");
- in prose, what points at a person: an honorific ("Dr Okafor"), a cue ("spoke with Kwame",
  "my colleague Aarav Sharma", "Hi Siobhán,"), or capitalised words in the middle of a lower-case
  sentence that are not common sentence words ("a refund for Oluwaseun Adebayo").
The shape alone is weak evidence — job titles, cities and plan names share it — so ``classify``
counts a whole value as a name only when the field's name points at a person.
"""

from __future__ import annotations

import re
import unicodedata


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Lower-case name particles that may stand between the capitalised words of a name.
_PARTICLES = _wordset("de da das do dos del della delle der den di du la le les van von ten ter zu zur af av y e "
                       "bin binti bint ibn al el ben bat ap dit")
# Words of organisations, products and plans: a capitalised phrase holding one is not a person.
ORG_WORDS = _wordset("""
inc incorporated llc llp ltd limited plc gmbh ag kg sa sas sarl srl spa bv nv oy ab asa kk pty pte co corp
corporation company group holding holdings lab labs laboratories systems solutions software technologies
technology tech partners associates consulting consultants services logistics studio studios health
healthcare analytics foods capital ventures media digital bank insurance university college school institute
foundation association agency industries international global enterprises network networks cloud store shop
hotel restaurant clinic hospital team teams support department office sales billing plan plans tier edition
plus pro premium enterprise business basic standard starter essential essentials advanced ultimate free trial
lite max mini app apps bot feed tag api platform suite the and &
""")
# Capitalised words that are common in sentences and not names: sentence openers, greetings,
# calendar words, languages, and the vocabulary of support prose ("contact Support", "the Billing Team").
COMMON_WORDS = _wordset("""
i i'm i've i'd i'll a an the this that these those it its we our you your he she they them their his her my me
us and or but so if then when while as at by for from in into of on to with without about after before over
under up down out not no yes ok okay please thanks thank hi hello hey dear regards best cheers welcome sorry
monday tuesday wednesday thursday friday saturday sunday january february march april may june july august
september october november december today tomorrow yesterday
english french german spanish italian portuguese dutch danish swedish polish japanese chinese korean european
american british
support team help desk service services customer customers success account accounts admin administrator manager
management sales billing finance legal security engineering product marketing operations office department
center centre settings dashboard inbox report reports export exports import data api app apps mobile web
browser email phone call meeting notes note update urgent important new free trial plan pro premium enterprise
business invoice invoices payment payments order orders refund ticket tickets issue bug feature request
question answer problem error login password sso
google microsoft apple chrome firefox safari edge windows mac macos ios android linux slack zoom teams
salesforce hubspot stripe paypal excel word outlook gmail linkedin twitter facebook instagram whatsapp
""")
# Titles written before a person's name.
_HONORIFIC = re.compile(
    r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Dame|Herr|Frau|Mme|Mlle|Monsieur|Madame|Sr|Sra|Srta|Señor|Señora|"
    r"Sig|Signor|Signora|Dott|Dhr|Mevr|Pan|Pani)\.?\s+(\S+)"
)
# Phrases that introduce a person: contact verbs, greetings, relations and roles, naming phrases.
_CUE = re.compile(
    r"(?i:\b(?:(?:spoke|speak|speaking|talked|talking|chatted|met|meeting|call|called|phoned|emailed|texted|"
    r"messaged)(?:\s+(?:with|to))?|hi|hello|hey|dear|thanks|thank\s+you|cheers|colleague|co-?worker|manager|"
    r"boss|assistant|wife|husband|spouse|son|daughter|mother|father|brother|sister|friend|ceo|cto|cfo|coo|"
    r"founder|director|contact|(?:my\s+)?name\s+is|named|call\s+me|referred\s+by|introduced\s+by|signed\s+by|"
    r"approved\s+by|requested\s+by|reported\s+by|on\s+behalf\s+of|assistant\s+to|reach|ask|ping|cc))"
    r"[:,]?\s+(\S+)"
)
# Prepositions that introduce places and things ("in New York", "via Google Sheets"), not people.
_NOT_BEFORE_PERSON = _wordset("in at near into inside using via on across around throughout within")
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+|\n+")
_PUNCT = ".,;:!?()[]{}\"'“”‘’«»<>*"
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]{2,4}")


def _letters(part: str) -> bool:
    return bool(part) and all(unicodedata.category(ch)[0] in "LM" for ch in part)


def _cased(text: str) -> bool:
    return any(ch.lower() != ch.upper() for ch in text)


def name_token(token: str) -> bool:
    """One written name word: "Zoë", "O'Brien", "Łukasiewicz-Ærøskøbing", "d'Angelo", "J.", "さくら"."""
    if len(token) <= 2 and token[:1].isupper() and token[1:] in ("", "."):
        return True  # an initial
    parts = re.split(r"[-'’]", token)
    if not all(_letters(part) for part in parts):
        return False
    if not _cased(token):
        return True  # a script without letter case: its shape says nothing more
    if token.isupper():
        return False  # an acronym ("SSO"); whole names in capitals are title-cased first
    head_lower_particle = len(parts) > 1 and parts[0].islower() and len(parts[0]) <= 3 and parts[1][:1].isupper()
    return token[0].isupper() or head_lower_particle


def looks_like_person_name(value: str) -> bool:
    """Whether a whole value has the shape of a person's name (no list of names is consulted)."""
    text = unicodedata.normalize("NFC", value.strip())
    if not text or len(text) > 80:
        return False
    if " " not in text:
        return bool(_CJK.fullmatch(text))  # "王伟": East Asian names are often written unspaced
    if any(not (_letters(ch) or ch in " -'’.,") for ch in text):
        return False  # digits, "@", "/", ":", "&", "_" …
    tokens = text.split()
    if text.count(",") == 1 and tokens[0].endswith(","):
        tokens[0] = tokens[0][:-1]  # "Adebayo, Oluwaseun"
    if "," in "".join(tokens):
        return False
    if _cased(text) and text.isupper():
        tokens = [tok.title() for tok in tokens]  # "KWAME MENSAH"
    return _name_words(tokens)


def _name_words(tokens: list[str]) -> bool:
    if not 2 <= len(tokens) <= 5 or any(tok.casefold() in ORG_WORDS for tok in tokens):
        return False
    if not (name_token(tokens[0]) and name_token(tokens[-1])):
        return False
    inner_ok = all(name_token(tok) or tok in _PARTICLES for tok in tokens[1:-1])
    named = sum(name_token(tok) for tok in tokens)
    return inner_ok and 2 <= named <= 4


def _core(word: str) -> str:
    return word.strip(_PUNCT)


def _candidate(word: str) -> bool:
    """A name word that is not a common sentence word or an organisation word."""
    core = _core(word)
    folded = core.casefold()
    return bool(core) and name_token(core) and folded not in COMMON_WORDS and folded not in ORG_WORDS


def mentions_person(text: str) -> bool:
    """Whether prose names a person: an honorific, a cue before a name, or a name mid-sentence."""
    if any(_candidate(m.group(1)) for m in _HONORIFIC.finditer(text)):
        return True
    if any(_candidate(m.group(1)) for m in _CUE.finditer(text)):
        return True
    return any(_name_mid_sentence(sentence.split()) for sentence in _SENTENCE_END.split(text))


def _name_mid_sentence(words: list[str]) -> bool:
    """Two to four name words after a lower-case word of the same sentence (so neither a sentence
    start nor a Title Case heading), not after "in"/"at"/"via" and not followed by an organisation word."""
    seen_lower = False
    i = 0
    while i < len(words):
        end = _run_end(words, i) if seen_lower else i
        if end > i:
            after = _core(words[end]).casefold() if end < len(words) else ""
            before = _core(words[i - 1]).casefold() if i else ""
            if after not in ORG_WORDS and before not in _NOT_BEFORE_PERSON:
                return True
            i = end
            continue
        core = _core(words[i])
        seen_lower = seen_lower or (core[:1].islower() and core.casefold() not in _PARTICLES)
        i += 1
    return False


def _run_end(words: list[str], start: int) -> int:
    """End (exclusive) of a run of 2-4 name words from ``start``, or ``start`` when there is none."""
    names = 0
    j = start
    while j < len(words) and names < 4:
        word = words[j]
        if _candidate(word):
            names += 1
        elif not (names and word in _PARTICLES):
            break
        j += 1
        if word[-1:] in ",;:!?().":
            break  # punctuation closes the name
    while j > start and _core(words[j - 1]) in _PARTICLES:
        j -= 1
    return j if names >= 2 else start
