"""Every string of the web console, in Chinese and English. Pages take theirs server-side; the
page's script gets the same table (a JSON data block) for what it writes itself."""

from __future__ import annotations

TEXT: dict[str, dict[str, str]] = {
    "title": {"zh": "traceledger 控制台", "en": "traceledger console"},
    "lang_switch": {"zh": "English", "en": "中文"},
    "skip": {"zh": "跳到主要内容", "en": "Skip to main content"},
    "nav_signin": {"zh": "登录", "en": "Sign in"},
    "nav_merchant": {"zh": "商家", "en": "Merchant"},
    "nav_auditor": {"zh": "审计", "en": "Auditor"},
    "signin_title": {"zh": "用您自己的密钥登录", "en": "Sign in with your own key"},
    "signin_intro": {
        "zh": "选择以太坊 keystore 文件并输入密码。密钥只在本浏览器中解密，绝不离开本页面。",
        "en": "Choose your Ethereum keystore file and enter its password. The key is decrypted in this browser "
        "and never leaves the page.",
    },
    "keystore_file": {"zh": "Keystore 文件", "en": "Keystore file"},
    "password": {"zh": "密码", "en": "Password"},
    "signin_keystore": {"zh": "用 keystore 登录", "en": "Sign in with keystore"},
    "signin_wallet": {"zh": "用浏览器钱包登录", "en": "Sign in with browser wallet"},
    "no_wallet": {"zh": "此浏览器没有钱包扩展。", "en": "This browser has no wallet extension."},
    "decrypting": {"zh": "正在解密密钥…", "en": "Decrypting the key…"},
    "signing": {"zh": "正在签名登录消息…", "en": "Signing the sign-in message…"},
    "signed_in": {"zh": "已登录：", "en": "Signed in as "},
    "signin_failed": {"zh": "登录失败：", "en": "Sign-in failed: "},
    "sign_out": {"zh": "退出", "en": "Sign out"},
    "need_signin": {"zh": "请先登录。", "en": "Please sign in first."},
    "deposit_title": {"zh": "保证金", "en": "Guarantee deposit"},
    "balance": {"zh": "余额", "en": "Balance"},
    "required": {"zh": "最低要求", "en": "Required"},
    "frozen": {"zh": "冻结", "en": "Frozen"},
    "pending_withdrawal": {"zh": "待提取", "en": "Pending withdrawal"},
    "unlocks_at": {"zh": "解锁时间", "en": "Unlocks at"},
    "amount_fen": {"zh": "金额（分）", "en": "Amount (fen)"},
    "deposit_add": {"zh": "存入", "en": "Deposit"},
    "products_title": {"zh": "产品与批次", "en": "Products and batches"},
    "gtin": {"zh": "GTIN", "en": "GTIN"},
    "name": {"zh": "名称", "en": "Name"},
    "none_yet": {"zh": "暂无。", "en": "None yet."},
    "codes_title": {"zh": "发放防伪码", "en": "Issue codes"},
    "lot": {"zh": "批号", "en": "Lot"},
    "count": {"zh": "数量", "en": "Count"},
    "issue": {"zh": "发放", "en": "Issue"},
    "issuing": {"zh": "正在发放并上链…", "en": "Issuing and anchoring on chain…"},
    "issued": {"zh": "已发放并上链：", "en": "Issued and anchored: "},
    "labels_pdf": {"zh": "下载标签 PDF", "en": "Download label PDF"},
    "codes_csv": {"zh": "下载 CSV", "en": "Download CSV"},
    "epcis_title": {"zh": "上传 EPCIS 事件", "en": "Upload EPCIS events"},
    "epcis_file": {"zh": "EPCIS 文件（JSON-LD 或 XML）", "en": "EPCIS file (JSON-LD or XML)"},
    "upload": {"zh": "上传", "en": "Upload"},
    "epcis_refused": {"zh": "文件被拒绝，未保存任何内容：", "en": "The file was refused, nothing was stored:"},
    "epcis_stored": {"zh": "已保存事件：", "en": "Events stored: "},
    "epcis_duplicates": {"zh": "，重复：", "en": ", duplicates: "},
    "anchoring": {"zh": "（等待上链锚定）", "en": " (waiting to be anchored on chain)"},
    "error": {"zh": "出错：", "en": "Error: "},
    "recon_title": {"zh": "对账运行", "en": "Reconciliation runs"},
    "verdict": {"zh": "结论", "en": "Verdict"},
    "created": {"zh": "时间", "en": "When"},
    "breaks": {"zh": "差异", "en": "Breaks"},
}


def table(lang: str) -> dict[str, str]:
    return {k: v[lang] for k, v in TEXT.items()}
