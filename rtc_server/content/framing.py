"""The local composer's own words (its framing), in English and Korean (pure).

Everything the composer writes that is *not* taken from the material lives
here: headings, instructions, the honest disclosure, the "add a reading"
message.  None of it states a fact about a subject.  The language is the
session's when it has one, else the material's (read from its script), else
English; Korean framing puts the right particle after a word it did not
write itself (:func:`josa`).
"""

from __future__ import annotations

from rtc_server.material.tokens import has_batchim, is_hangul

__all__ = ["LANGUAGES", "framing_language", "josa", "level_line", "material_source", "phrase"]

LANGUAGES = ("en", "ko")

_PHRASES: dict[str, dict[str, str]] = {
    "en": {
        "disclosure": "_Composed by the local composer (no AI model was used)._",
        "disclosure_material": "_Composed by the local composer from {source} (no AI model "
        "was used). Every sentence in quotation marks or in a list below is taken word for word "
        "from the material; [p3] names the passage it comes from._",
        "no_material": "No reading has been added to this class yet, so this text states no "
        "facts about {topic}.",
        "can_do": "Add a reading (pasted text, a Markdown or text file, or a PDF) to get a "
        "summary, key terms, an outline, fill-in-the-blank and multiple-choice questions, and "
        "hints that quote it, each naming the passage it comes from.",
        "not_found": "“{topic}” does not appear in the material, so this follows what the "
        "material covers.",
        "level": "Level: {level}",
        "grade_number": "grade {grade}",
        "beginner": "beginner",
        "intermediate": "intermediate",
        "advanced": "advanced",
        "h_summary": "Summary",
        "h_terms": "Key terms",
        "h_outline": "Outline",
        "h_example": "Worked example",
        "h_try": "Try it",
        "h_answers": "Answers",
        "h_can_do": "What the local composer can do",
        "h_frame": "A lesson frame for {topic}",
        "h_reading_says": "What the reading says",
        "h_steps": "Step by step",
        "h_check": "Quick check",
        "h_text": "Text",
        "h_key_points": "Key points",
        "h_short": "In short",
        "h_words": "Words to know",
        "h_one_by_one": "The text, one sentence at a time",
        "h_further": "Going further",
        "h_another_way": "Let's look at {topic} another way",
        "follow_steps": "Follow the steps in the reading {cite}:",
        "example_question": "Question: {prompt}",
        "example_look": "Find the sentence in the reading {cite}: “{sentence}”",
        "example_answer": "It gives the missing word: **{answer}**.",
        "blank": "Fill in the blank: {prompt}",
        "choice": "Choose the word that fits: {prompt}",
        "link": "Explain in your own words how **{a}** and **{b}** are connected; use "
        "passage {cite}.",
        "word_bank": "Word bank: {words}.",
        "hint": "Hint: read passage {cite} again: “{quote}”",
        "why_confusion": "many of you looked unsure",
        "why_wrong": "several answers went wrong",
        "why": "This extra help is here because {why}: {details}",
        "exit_summary": "Write one sentence about {topic} that uses {terms}.",
        "frame_start": "Start: ask what the class already knows about {topic} and note their "
        "ideas on the board.",
        "frame_teach": "Teach: present {topic} from your own material, one idea at a time.",
        "frame_check": "Check: an exit ticket — “One thing I learned about {topic} is …” and "
        "“One question I still have is …”.",
        "again_steps": "Say in your own words what the question asked.|Look up {topic} in your "
        "notes or textbook and find the sentence that answers it.|Explain it to a partner, then "
        "try the question again.",
        "measured": "Measured understanding: {share}. {pace}",
        "pace_slow": "The class is struggling, so this plan slows down: review first, then "
        "guided practice.",
        "pace_fast": "The class is ready for more, so this plan adds challenge work.",
        "pace_ok": "The class is on track.",
        "materials": "Materials: {items}.",
        "plan_title": "Plan: {topic} ({minutes} min left)",
        "recall": "Recall from the reading:",
        "adapt_title": "{topic} ({level} version)",
        "hint_look": "Read passage {label} again{where}.",
        "hint_where_heading": " (“{heading}”)",
        "hint_where_page": ", page {page}",
        "hint_quote": "It says: “{quote}” {cite}",
        "hint_start": "The answer starts with “{first}”.",
        "activity_visual": "Draw a concept map with **{topic}** in the middle and {terms} "
        "around it; label every arrow with how the two ideas connect.",
        "activity_auditory": "Explain {topic} aloud to a partner in under a minute using "
        "{terms}; the partner repeats the key idea back and asks one question.",
        "activity_reading_writing": "Write a three-sentence summary of {topic} that uses the "
        "words {terms}.",
        "activity_kinesthetic": "Make one card per key word ({terms}); arrange the cards to "
        "show how they connect, then explain the layout.",
        "activity_mixed": "Pick one: sketch a diagram of {topic}, explain it aloud to a "
        "partner, or write two sentences using {terms}.",
    },
    "ko": {
        "disclosure": "_로컬 작성기(local composer)로 만든 글입니다 (AI 모델을 쓰지 않았습니다; "
        "no AI model was used)._",
        "disclosure_material": "_로컬 작성기(local composer)가 {source}로 만든 글입니다 "
        "(AI 모델을 쓰지 않았습니다; no AI model was used). 따옴표 안이나 목록에 있는 문장은 "
        "자료에서 그대로 가져왔고, [p3]은 그 문장이 있는 문단을 가리킵니다._",
        "no_material": "이 수업에 아직 읽기 자료가 없어서 {topic}에 관한 사실은 쓰지 않았습니다.",
        "can_do": "읽기 자료(붙여 넣은 글, 마크다운이나 텍스트 파일, PDF)를 추가하면 자료에서 "
        "뽑은 요약, 핵심 용어, 내용 구성, 빈칸 채우기와 객관식 문제, 자료를 인용한 힌트를 "
        "문단 번호와 함께 만들 수 있습니다.",
        "not_found": "자료에 “{topic}”{josa_i} 나오지 않아서, 자료가 다루는 내용을 따라갑니다.",
        "level": "수준: {level}",
        "grade_number": "{grade}학년",
        "beginner": "기초",
        "intermediate": "중급",
        "advanced": "심화",
        "h_summary": "요약",
        "h_terms": "핵심 용어",
        "h_outline": "내용 구성",
        "h_example": "풀이 예시",
        "h_try": "풀어 보기",
        "h_answers": "정답",
        "h_can_do": "로컬 작성기가 할 수 있는 일",
        "h_frame": "{topic} 수업 틀",
        "h_reading_says": "자료에 나온 내용",
        "h_steps": "차근차근",
        "h_check": "확인 문제",
        "h_text": "본문",
        "h_key_points": "핵심 내용",
        "h_short": "간단히",
        "h_words": "알아 둘 낱말",
        "h_one_by_one": "한 문장씩 읽기",
        "h_further": "더 생각해 보기",
        "h_another_way": "{topic}, 다른 방법으로 살펴보기",
        "follow_steps": "자료의 순서를 따라가 봅시다 {cite}:",
        "example_question": "문제: {prompt}",
        "example_look": "자료에서 이 문장을 찾습니다 {cite}: “{sentence}”",
        "example_answer": "빈칸에 들어갈 말은 **{answer}**입니다.",
        "blank": "빈칸에 알맞은 말을 쓰세요: {prompt}",
        "choice": "빈칸에 알맞은 것을 고르세요: {prompt}",
        "link": "**{a}**{josa_wa} **{b}**{josa_i} 어떻게 연결되는지 자기 말로 설명하세요 "
        "(문단 {cite} 참고).",
        "word_bank": "보기: {words}.",
        "hint": "힌트: 문단 {cite}을 다시 읽어 보세요: “{quote}”",
        "why_confusion": "여러 학생이 어려워하는 것 같아서",
        "why_wrong": "틀린 답이 여러 개 나와서",
        "why": "{why} 추가 설명을 준비했습니다: {details}",
        "exit_summary": "{terms}{josa_eul} 넣어 {topic}에 관한 문장을 하나 써 보세요.",
        "frame_start": "시작: {topic}에 대해 이미 알고 있는 것을 묻고 칠판에 적습니다.",
        "frame_teach": "설명: 선생님의 자료로 {topic}{josa_eul} 한 가지씩 설명합니다.",
        "frame_check": "확인: 나가기 전 쪽지 — “오늘 {topic}에 대해 배운 것 한 가지”와 "
        "“아직 궁금한 것 한 가지”.",
        "again_steps": "문제가 무엇을 묻는지 자기 말로 말해 봅니다.|공책이나 교과서에서 "
        "{topic}{josa_eul} 찾아 답이 되는 문장을 찾습니다.|짝에게 설명한 뒤 문제를 다시 "
        "풀어 봅니다.",
        "measured": "측정한 이해도: {share}. {pace}",
        "pace_slow": "어려워하는 학생이 많아서 복습과 함께 하는 연습부터 천천히 진행합니다.",
        "pace_fast": "이해도가 높아서 도전 과제를 더합니다.",
        "pace_ok": "계획대로 진행하고 있습니다.",
        "materials": "준비물: {items}.",
        "plan_title": "계획: {topic} (남은 시간 {minutes}분)",
        "recall": "자료에서 떠올려 봅시다:",
        "adapt_title": "{topic} ({level})",
        "hint_look": "문단 {label}{where}을 다시 읽어 보세요.",
        "hint_where_heading": " (“{heading}”)",
        "hint_where_page": ", {page}쪽",
        "hint_quote": "자료에는 이렇게 나옵니다: “{quote}” {cite}",
        "hint_start": "답은 “{first}”(으)로 시작합니다.",
        "activity_visual": "**{topic}**{josa_eul} 가운데에 두고 {terms}{josa_eul2} 둘레에 놓은 "
        "개념도를 그린 뒤, 화살표마다 두 개념의 관계를 적어 보세요.",
        "activity_auditory": "{terms}{josa_eul2} 써서 {topic}{josa_eul} 짝에게 1분 안에 "
        "말로 설명하세요. 짝은 핵심을 되풀이하고 질문을 하나 합니다.",
        "activity_reading_writing": "{terms}{josa_eul2} 넣어 {topic}{josa_eul} 세 문장으로 "
        "요약해 보세요.",
        "activity_kinesthetic": "핵심 낱말({terms})마다 카드를 한 장씩 만들어 서로의 관계가 "
        "보이게 늘어놓고, 왜 그렇게 놓았는지 설명하세요.",
        "activity_mixed": "하나를 골라 보세요: {topic} 그림 그리기, 짝에게 말로 설명하기, "
        "{terms}{josa_eul2} 넣어 두 문장 쓰기.",
    },
}

_SECTION_TITLES_KO = {
    "review": "기초 복습",
    "guided_practice": "함께 하는 연습",
    "check": "이해 확인",
    "wrap_up": "정리",
    "recap": "지난 내용 떠올리기",
    "explanation": "새 내용 설명",
    "practice": "연습",
    "challenge": "도전 문제",
}


def framing_language(session_language: str, material_language: str = "") -> str:
    """The session's language if the composer has words for it, else the material's."""
    for language in (session_language.lower().split("-")[0], material_language):
        if language in LANGUAGES:
            return language
    return "en"


def josa(word: str, with_batchim: str, without: str) -> str:
    """The particle that follows ``word`` ("광합성" + 을, "물질" + 을, "기공" + 을, "잎" + 을…)."""
    last = word.rstrip("*”\" )")[-1:] if word else ""
    if not last or not is_hangul(last):
        return f"{with_batchim}({without})"
    return with_batchim if has_batchim(last) else without


def material_source(language: str, title: str) -> str:
    """The material a text comes from, as the disclosure names it: its title in quotes, or
    "the teacher's material" when it has none the class may see (unpublished material)."""
    if language == "ko":
        return f"“{title}” 자료" if title else "선생님 자료"
    return f"“{title}”" if title else "the teacher's material"


def phrase(language: str, key: str, **values: str) -> str:
    table = _PHRASES.get(language, _PHRASES["en"])
    text = table.get(key) or _PHRASES["en"][key]
    if language == "ko":
        topic = values.get("topic", "")
        terms = values.get("terms", "")
        values = {
            **values,
            "josa_i": josa(values.get("topic", values.get("b", "")), "이", "가"),
            "josa_eul": josa(topic, "을", "를"),
            "josa_eul2": josa(terms, "을", "를"),
            "josa_wa": josa(values.get("a", ""), "과", "와"),
        }
    return text.format(**values)


def section_title(language: str, type: str, title: str) -> str:
    """A planned section's title in the framing language."""
    if language == "ko":
        return _SECTION_TITLES_KO.get(type, title)
    return title


def level_line(language: str, difficulty: str, grade: str) -> str:
    """"Level: intermediate, Year 8." — the grade exactly as the session states it."""
    line = phrase(language, "level", level=phrase(language, difficulty))
    grade = grade.strip()
    if grade:
        shown = phrase(language, "grade_number", grade=grade) if grade.isdigit() else grade
        line += f", {shown}"
    return line + "."
