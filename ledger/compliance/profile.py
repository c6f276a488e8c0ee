"""The trace-record profile: the elements a record must hold under GB/T 38156-2019 §5, GB/T
37029-2018 §6 (production 6.1, logistics 6.2, sales 6.3) and the Food Safety Law Art. 50-53
(purchase-inspection and sale records), each with its zh and en label and the EPCIS 2.0 field that
carries it. `json_schema()` is the profile as a JSON Schema document (labels as `title` and
`x-title-zh`, the EPCIS field as `x-epcis`).

Which elements an event must hold follows from its kind, read from its bizStep (`kind_of`)."""

from __future__ import annotations

from dataclasses import dataclass

PROFILE_VERSION = "cn-trace-1"


@dataclass(frozen=True)
class Element:
    id: str
    zh: str
    en: str
    clause: str
    epcis: str


def _e(id_: str, zh: str, en: str, clause: str, epcis: str) -> Element:
    return Element(id_, zh, en, clause, epcis)


_PARTY_FIELDS = (("name", "名称", "name"), ("credit_code", "统一社会信用代码", "unified social credit code"),
                 ("address", "地址", "address"), ("contact", "联系方式", "contact"))  # fmt: skip
_SIDES = (
    ("supplier", "供方", "supplier", "sourceList (owning_party / possessing_party URN, its registered party)"),
    ("receiver", "收方", "receiver", "destinationList (owning_party / possessing_party URN, its registered party)"),
)

ELEMENTS: tuple[Element, ...] = (
    _e(
        "product_name",
        "产品名称",
        "product name",
        "GB/T 38156 §5",
        "GTIN of epcList/quantityList -> registered product name",
    ),
    _e(
        "product_spec",
        "产品规格",
        "product specification",
        "GB/T 38156 §5",
        "ilmd netContent / specification, or the class's master data",
    ),
    _e("trace_code", "追溯码", "trace code", "GB/T 38156 §5", "epcList / quantityList / inputs / outputs"),
    _e("batch", "批次", "batch (lot)", "GB/T 38156 §5", "the lot (AI 10) of an identifier, or ilmd lotNumber"),
    _e(
        "quantity_unit",
        "数量和单位",
        "quantity and unit",
        "GB/T 38156 §5",
        "quantityList quantity + uom, or the count of epcList",
    ),
    _e("event_time", "交易时间", "time of the transaction", "GB/T 38156 §5", "eventTime"),
    _e("place", "交易地点", "place of the transaction", "GB/T 38156 §5", "bizLocation.id, else readPoint.id"),
    _e("transaction_kind", "交易类型", "kind of the transaction", "GB/T 38156 §5", "bizStep"),
    _e("transaction_ref", "交易凭证号", "reference of the transaction", "GB/T 38156 §5", "bizTransactionList"),
    *(
        _e(f"{side}_{f}", f"{szh}{fzh}", f"{sen} {fen}", "GB/T 38156 §5", field)
        for side, szh, sen, field in _SIDES
        for f, fzh, fen in _PARTY_FIELDS
    ),
    _e(
        "recorder",
        "记录主体",
        "recording member (a registered party)",
        "GB/T 37029 §6",
        "the capturing member -> its registered party",
    ),
    _e(
        "signature",
        "电子签名",
        "electronic signature of the recording member",
        "GB/T 37029 §6",
        "the recorder's EIP-191 signature over the event's hash ID (PUT /v1/compliance/events/{hash}/signature)",
    ),  # fmt: skip
    _e(
        "production_date",
        "生产日期",
        "production date",
        "GB/T 37029 §6.1; FSL Art. 50",
        "eventTime of the production event",
    ),
    _e(
        "shelf_life",
        "保质期",
        "shelf life",
        "GB/T 37029 §6.1; FSL Art. 50-53",
        "ilmd itemExpirationDate / bestBeforeDate",
    ),
    _e("inspection_cert", "检验合格证明编号", "inspection certificate number", "FSL Art. 50-52", "certificationInfo"),
)
BY_ID = {e.id: e for e in ELEMENTS}
_PARTIES = tuple(f"{side}_{f}" for side, *_ in _SIDES for f, *_ in _PARTY_FIELDS)
_GOODS = ("product_name", "product_spec", "trace_code", "batch", "quantity_unit")
_WHEN_WHERE = ("event_time", "place", "transaction_kind")
#: the signature is judged per batch (the report: anchored on chain), not per event at capture
_SIGNED = ("recorder",)
_CERT = "inspection_cert"
_TRADE = _GOODS + _WHEN_WHERE + ("transaction_ref",)

#: kind -> (section, the elements an event of that kind must hold)
KINDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "production": ("GB/T 37029 §6.1", _GOODS + _WHEN_WHERE + _SIGNED + ("production_date", "shelf_life", _CERT)),
    "logistics": ("GB/T 37029 §6.2", _TRADE + _PARTIES + _SIGNED),
    "purchase": ("GB/T 37029 §6.2; FSL Art. 50, 53", _TRADE + _PARTIES + _SIGNED + ("inspection_cert",)),
    "sales": ("GB/T 37029 §6.3; FSL Art. 53", _TRADE + _SIGNED),
    "other": ("GB/T 38156 §5", _GOODS + _WHEN_WHERE + _SIGNED),
}  # fmt: skip
_STEPS = {
    "production": {"commissioning", "creating_class_instance", "transforming", "producing"},
    "logistics": {"shipping", "departing", "arriving", "loading", "unloading", "transporting", "staging_outbound"},
    "purchase": {"receiving", "accepting"},
    "sales": {"retail_selling", "selling"},
}


def step_name(biz_step: object) -> str:
    """`https://ref.gs1.org/cbv/BizStep-shipping`, `urn:epcglobal:cbv:bizstep:shipping`, `shipping` -> shipping."""
    if not isinstance(biz_step, str):
        return ""
    return biz_step.rsplit("BizStep-", 1)[-1].rsplit(":", 1)[-1]


def kind_of(event: dict) -> str:
    if event.get("type") == "TransformationEvent":
        return "production"
    step = step_name(event.get("bizStep"))
    return next((k for k, steps in _STEPS.items() if step in steps), "other")


def json_schema() -> dict:
    """The profile as a JSON Schema (2020-12) of a trace record: one property per element, the
    required ones per kind under `x-required-by-kind`."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:traceledger:profile:{PROFILE_VERSION}",
        "title": "Trace record (GB/T 38156-2019, GB/T 37029-2018, Food Safety Law Art. 50-53)",
        "x-title-zh": "追溯记录（GB/T 38156-2019、GB/T 37029-2018、《食品安全法》第五十至五十三条）",
        "type": "object",
        "properties": {
            e.id: {"title": e.en, "x-title-zh": e.zh, "x-clause": e.clause, "x-epcis": e.epcis, "type": "string"}
            for e in ELEMENTS
        },
        "x-required-by-kind": {k: {"section": s, "required": list(req)} for k, (s, req) in KINDS.items()},
        "required": list(KINDS["other"][1]),
    }
