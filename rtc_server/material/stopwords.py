"""Short, curated stop-word and particle lists for English and Korean.

Kept short on purpose: a stop word here is a word that can never be a key
term or a blank in a question.  Generic classroom words ("lesson",
"student") are included because teachers' prompts are full of them.
"""

from __future__ import annotations

__all__ = ["ENGLISH_STOP", "JOSA", "KOREAN_STOP", "NOUN_EVIDENCE_JOSA"]

ENGLISH_STOP = frozenset(
    """
    a about above after again against all almost along also although always am among an back
    and another any are around as at away be became because become becomes been before
    being below between both but by called can cannot could did do does doing done down
    during each either else enough etc even ever every few for from further get gets got
    had has have having he her here hers him his how however i if in into is it its itself
    just known least less like made make makes many may me might more most much must my
    near need needs neither never no nor not now of off often on once one only onto or
    other others our ours out over own per perhaps quite rather really said same see seen
    several shall she should since so some something sometimes still such than that the
    their theirs them themselves then there therefore these they thing things this those
    though through thus to together too toward towards under until up upon us use used uses
    using usually very via was way ways we well were what whatever when where whether which
    while who whom whose why will with within without would yet you your yours
    affect affects affected include includes including contain contains
    explain teach lesson lessons student students class today please let learn learning
    topic example examples understand
    """.split()
)

#: Dependent nouns, pronouns, conjunctions and the commonest predicates, as
#: they look once their particle is stripped.
KOREAN_STOP = frozenset(
    """
    것 수 등 때 및 또는 또 그리고 그러나 하지만 그래서 따라서 그런데 즉 곧 다시 함께
    이 그 저 이것 그것 저것 여기 거기 저기 이곳 그곳 우리 저희 너 나 누구 무엇 어디 언제 왜
    어떻게 모든 각 여러 많은 다른 같은 이런 그런 저런 매우 아주 더 덜 가장 잘 못 안 바로
    있다 없다 하다 되다 이다 아니다 있는 없는 하는 되는 있고 하고 되고 있어 있으며 한다 된다
    위해 위하여 통해 통하여 대해 대하여 관해 때문 경우 정도 사이 중 후 전 뒤 앞 밖 위 아래
    속 점 면 번 개 가지 부분 모두 대부분 일부 자신 서로 오늘 이번 수업 학생 설명 주제 예
    주로 특히 보통 대개 거의 곳 이상 이하 이내 이후 이전 같이 높이 많이 없이
    이렇게 그렇게 저렇게 어떤 무슨 이러한 그러한 다음 처음 마지막
    """.split()
)

#: Korean particles (josa) and the copula, longest first so that "에서" is
#: stripped before "에".  Each entry says which syllable it may follow:
#: "C" after a final consonant (batchim), "V" after a vowel, "" after either.
JOSA: tuple[tuple[str, str], ...] = (
    ("이라는", "C"), ("에서부터", ""), ("으로부터", "C"), ("에게서", ""), ("에서는", ""),
    ("에서도", ""), ("에서의", ""), ("으로는", "C"), ("으로도", "C"), ("으로써", "C"),
    ("으로서", "C"), ("입니다", ""), ("이라고", "C"), ("로부터", "V"), ("에게", ""),
    ("한테", ""), ("께서", ""), ("에서", ""), ("으로", "C"), ("까지", ""), ("부터", ""),
    ("처럼", ""), ("보다", ""), ("마다", ""), ("조차", ""), ("이나", "C"), ("이란", "C"),
    ("이며", "C"), ("이고", "C"), ("이다", ""), ("에는", ""), ("에도", ""), ("와는", "V"),
    ("과는", "C"), ("라는", "V"), ("로는", "V"), ("로서", "V"), ("로써", "V"), ("이랑", "C"),
    ("은", "C"), ("는", "V"), ("이", "C"), ("가", "V"), ("을", "C"), ("를", "V"), ("의", ""),
    ("에", ""), ("로", "V"), ("와", "V"), ("과", "C"), ("도", ""), ("만", ""), ("란", "V"),
)

#: Particles that only follow nouns.  "-는"/"-은" are left out because they
#: also make verbs adnominal ("작은", "만드는"); "-을" also marks the future
#: on verbs ("먹을"), so tokens.py only takes it as evidence after a stem of
#: two syllables or more.  A Korean word seen with one of these is a noun.
NOUN_EVIDENCE_JOSA = frozenset(
    "이 가 를 을 의 에 에서 으로 로 와 과 에게 까지 부터 처럼 보다 에서는 에서도 으로는 이란 "
    "이라는 이다 입니다 이며 이고 에는 로는 으로부터 로부터".split()
)
