"""Taiwanese names, addresses, phone numbers, unified business numbers and virtual accounts."""

from __future__ import annotations

import random
from dataclasses import dataclass

SURNAMES = "陳林黃張李王吳劉蔡楊許鄭謝洪郭邱曾廖賴徐周葉蘇莊呂江何蕭羅高潘簡朱鍾游彭詹胡施沈余盧梁趙顏柯翁魏孫戴"
GIVEN = "志明俊傑家豪建宏淑芬美玲雅婷怡君冠宇宗翰承恩佳穎欣怡政雄文華秀英麗華國強嘉玲育誠品妤柏翰詩涵"
SHOP_KINDS = ("小吃店", "麵館", "自助餐", "火鍋店", "便當店", "早餐店", "熱炒", "牛肉麵", "餐廳", "滷味")
FACTORY_KINDS = ("食品廠", "鋼鐵", "紡織", "塑膠工業", "機械", "陶瓷", "化工", "印刷")
ROADS = (
    "中山路",
    "中正路",
    "民生路",
    "民權路",
    "復興路",
    "建國路",
    "和平路",
    "成功路",
    "光復路",
    "自由路",
    "忠孝路",
    "仁愛路",
)

# Weights of the unified business number (統一編號) checksum, per the Ministry of Finance rule.
_UBN_WEIGHTS = (1, 2, 1, 2, 1, 2, 4, 1)


def _digit_sum(n: int) -> int:
    return n // 10 + n % 10


def ubn_is_valid(ubn: str) -> bool:
    """True for a valid 8-digit 統一編號 (sum of weighted digit sums divisible by 5, or by the
    7th-digit-is-7 rule where that digit may count as 0 or 1)."""
    if len(ubn) != 8 or not ubn.isdigit():
        return False
    sums = [_digit_sum(int(d) * w) for d, w in zip(ubn, _UBN_WEIGHTS, strict=True)]
    total = sum(sums)
    if total % 5 == 0:
        return True
    return ubn[6] == "7" and (total + 1) % 5 == 0


def make_ubn(rng: random.Random) -> str:
    """A random valid 統一編號."""
    while True:
        candidate = f"{rng.randrange(10**7, 10**8):08d}"
        if ubn_is_valid(candidate):
            return candidate


def person_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN[::2]) + rng.choice(GIVEN[1::2])


def mobile(rng: random.Random) -> str:
    return f"09{rng.randrange(10**8):08d}"


def virtual_account(customer_id: int) -> str:
    """The customer's 14-digit virtual account at our bank: a fixed prefix, the id, a check digit."""
    body = f"9501{customer_id:09d}"
    check = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body)) % 10
    return body + str(check)


@dataclass(frozen=True)
class District:
    city_zh: str
    district_zh: str
    postal_code: str
    latitude: float
    longitude: float


# The districts served by each branch (postal codes and centre coordinates are real).
DISTRICTS: dict[str, tuple[District, ...]] = {
    "TPE": (
        District("台北市", "大安區", "106", 25.0268, 121.5434),
        District("台北市", "信義區", "110", 25.0330, 121.5654),
        District("台北市", "士林區", "111", 25.0929, 121.5246),
        District("台北市", "內湖區", "114", 25.0694, 121.5890),
        District("台北市", "中山區", "104", 25.0642, 121.5330),
    ),
    "NTP": (
        District("新北市", "板橋區", "220", 25.0117, 121.4626),
        District("新北市", "三重區", "241", 25.0614, 121.4871),
        District("新北市", "新店區", "231", 24.9676, 121.5420),
        District("新北市", "中和區", "235", 24.9990, 121.4990),
        District("新北市", "新莊區", "242", 25.0360, 121.4500),
    ),
    "TYN": (
        District("桃園市", "桃園區", "330", 24.9937, 121.3010),
        District("桃園市", "中壢區", "320", 24.9653, 121.2245),
        District("桃園市", "平鎮區", "324", 24.9459, 121.2180),
    ),
    "HSZ": (
        District("新竹市", "東區", "300", 24.8039, 120.9647),
        District("新竹縣", "竹北市", "302", 24.8387, 121.0177),
    ),
    "TXG": (
        District("台中市", "西屯區", "407", 24.1814, 120.6469),
        District("台中市", "北區", "404", 24.1575, 120.6829),
        District("台中市", "豐原區", "420", 24.2521, 120.7227),
        District("台中市", "大里區", "412", 24.0994, 120.6780),
    ),
    "CHW": (
        District("彰化縣", "彰化市", "500", 24.0809, 120.5388),
        District("彰化縣", "員林市", "510", 23.9588, 120.5743),
    ),
    "TNN": (
        District("台南市", "東區", "701", 22.9800, 120.2228),
        District("台南市", "永康區", "710", 23.0264, 120.2570),
        District("台南市", "安南區", "709", 23.0470, 120.1850),
    ),
    "KHH": (
        District("高雄市", "苓雅區", "802", 22.6221, 120.3122),
        District("高雄市", "左營區", "813", 22.6874, 120.2955),
        District("高雄市", "鳳山區", "830", 22.6268, 120.3574),
        District("高雄市", "三民區", "807", 22.6500, 120.3250),
    ),
    "PIF": (
        District("屏東縣", "屏東市", "900", 22.6690, 120.4862),
        District("屏東縣", "潮州鎮", "920", 22.5500, 120.5420),
    ),
    "HUN": (
        District("花蓮縣", "花蓮市", "970", 23.9872, 121.6016),
        District("花蓮縣", "吉安鄉", "973", 23.9707, 121.5680),
    ),
    "TTT": (
        District("台東縣", "台東市", "950", 22.7583, 121.1444),
        District("台東縣", "卑南鄉", "954", 22.7860, 121.0830),
    ),
}


def address_in(rng: random.Random, district: District) -> tuple[str, float, float, int | None]:
    """(address text, latitude, longitude, floor) within about 3 km of the district centre."""
    floor = rng.choice((None, 1, 2, 3, 4, 5, 7, 12))
    text = f"{district.city_zh}{district.district_zh}{rng.choice(ROADS)}{rng.randint(1, 6)}段{rng.randint(1, 480)}號"
    if floor:
        text += f"{floor}樓"
    lat = round(district.latitude + rng.uniform(-0.025, 0.025), 6)
    lon = round(district.longitude + rng.uniform(-0.025, 0.025), 6)
    return text, lat, lon, floor
