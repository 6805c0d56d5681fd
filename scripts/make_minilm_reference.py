"""Made once: reference sentence embeddings of all-MiniLM-L6-v2 from Hugging Face transformers
(the package's own stack: BertModel, then sentence-transformers' mean pooling and normalization),
stored in tests/data/minilm_reference.npz for tests/test_minilm.py.

    pip install transformers   # not an rf8lab dependency; only this script uses it
    python scripts/make_minilm_reference.py
"""
from pathlib import Path

import numpy as np
import torch
import transformers

from rf8lab.io.checkpoints import minilm_path
from rf8lab.nn.data import pydoc_sentences

root = str(minilm_path().parent)
tok = transformers.AutoTokenizer.from_pretrained(root)
model = transformers.AutoModel.from_pretrained(root).eval()
sentences = pydoc_sentences(32)
with torch.no_grad():
    b = tok(sentences, padding=True, truncation=True, max_length=256, return_tensors="pt")
    h = model(**b).last_hidden_state
    m = b["attention_mask"].unsqueeze(-1).float()
    e = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
    e = torch.nn.functional.normalize(e, p=2, dim=1)
out = Path(__file__).resolve().parents[1] / "tests" / "data" / "minilm_reference.npz"
np.savez(out, sentences=np.array(sentences), embeddings=e.numpy().astype(np.float32),
         input_ids=b["input_ids"].numpy(), transformers_version=np.array(transformers.__version__),
         torch_version=np.array(torch.__version__))
print(f"wrote {out}: {len(sentences)} sentences, transformers {transformers.__version__}")
