"""geodata.names: plausible Chinese names for synthetic features (places, people, phones).

Place fragments are real street/town names of each district; the facilities
named after them are invented.
"""

from __future__ import annotations

import numpy as np

PLACES: dict[str, tuple[str, ...]] = {
    "610102": (
        "韩森寨",
        "胡家庙",
        "长乐中路",
        "解放门",
        "自强路",
        "太华路",
        "中山门",
        "西一路",
        "长乐西路",
        "康复路",
        "幸福路",
        "八府庄",
    ),
    "610103": (
        "南院门",
        "柏树林",
        "长安路",
        "太乙路",
        "东关南街",
        "张家村",
        "文艺路",
        "南关",
        "互助路",
        "友谊路",
        "和平门",
        "建设路",
    ),
    "610104": (
        "北院门",
        "青年路",
        "桃园路",
        "土门",
        "红庙坡",
        "环城西路",
        "西关",
        "枣园",
        "北关",
        "大兴路",
        "劳动路",
        "丰庆路",
    ),
    "610111": (
        "纺织城",
        "席王",
        "洪庆",
        "狄寨",
        "新筑",
        "新合",
        "红旗",
        "十里铺",
        "灞桥",
        "浐灞",
        "三殿",
        "田王",
    ),
    "610112": (
        "张家堡",
        "大明宫",
        "谭家",
        "草滩",
        "六村堡",
        "汉城",
        "未央宫",
        "徐家湾",
        "辛家庙",
        "凤城",
        "文景路",
        "三桥",
    ),
    "610113": (
        "小寨",
        "大雁塔",
        "电子城",
        "鱼化寨",
        "丈八沟",
        "曲江",
        "等驾坡",
        "长延堡",
        "漳浒寨",
        "唐延路",
        "科技路",
        "含光路",
    ),
    "610114": ("凤凰路", "新华路", "振兴", "武屯", "关山", "北屯", "西飞", "人民路"),
    "610115": (
        "骊山",
        "秦陵",
        "新丰",
        "代王",
        "斜口",
        "行者",
        "零口",
        "相桥",
        "何寨",
        "徐杨",
        "北田",
        "雨金",
    ),
    "610116": (
        "韦曲",
        "郭杜",
        "滦镇",
        "引镇",
        "王曲",
        "子午",
        "太乙宫",
        "杜曲",
        "细柳",
        "兴隆",
        "大兆",
        "鸣犊",
        "斗门",
        "高桥",
    ),
    "610117": ("鹿苑", "泾渭", "崇皇", "姬家", "张卜", "通远", "耿镇", "湾子"),
    "610118": ("甘亭", "余下", "草堂", "秦渡", "庞光", "涝店", "祖庵", "石井", "玉蝉", "蒋村"),
    "610122": ("蓝关", "洩湖", "华胥", "前卫", "汤峪", "焦岱", "玉山", "三里镇", "普化", "九间房"),
    "610124": ("二曲", "哑柏", "终南", "马召", "集贤", "楼观", "翠峰", "尚村", "广济", "厚畛子"),
}

SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙马胡朱郭何罗高林郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余"
    "于杜叶程魏苏吕丁任卢姚沈钟姜崔谭陆范汪廖石金韦贾夏付方邹熊白孟秦邱侯江尹薛闫段雷"
    "龙黎史陶贺毛郝顾龚邵万覃武钱戴严莫孔向常"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华建国文辉鹏飞斌宇浩凯婷雪琳晨阳峰亮"
    "红梅玲波宁荣博涛欣怡嘉睿昊天"
)


def place(rng: np.random.Generator, adcode: str) -> str:
    """A real place fragment of the district."""
    options = PLACES[adcode]
    return options[int(rng.integers(len(options)))]


def person(rng: np.random.Generator) -> str:
    """A plausible Chinese full name."""
    surname = SURNAMES[int(rng.integers(len(SURNAMES)))]
    length = 1 if rng.random() < 0.35 else 2
    given = "".join(GIVEN[int(rng.integers(len(GIVEN)))] for _ in range(length))
    return surname + given


def phone(rng: np.random.Generator) -> str:
    """A synthetic Xi'an landline (029) or mobile number."""
    if rng.random() < 0.5:
        return f"029-8{int(rng.integers(0, 10_000_000)):07d}"
    return f"1{int(rng.choice([33, 35, 37, 38, 39, 52, 58, 59, 77, 80, 86, 89]))}" + (
        f"{int(rng.integers(0, 100_000_000)):08d}"
    )


def contact(rng: np.random.Generator) -> str:
    """Name and phone, as registers write them."""
    return f"{person(rng)} {phone(rng)}"


def numbered(base: str, seen: dict[str, int]) -> str:
    """Make a name unique by appending 二/三/... or a number when it repeats."""
    n = seen.get(base, 0) + 1
    seen[base] = n
    if n == 1:
        return base
    ordinal = "一二三四五六七八九十"
    if n <= 10:
        return f"{base}（{ordinal[n - 1]}）"
    return f"{base}（{n}）"
