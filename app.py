"""Entry point: page configuration, navigation and the shared frame. Nothing else."""

import streamlit as st

from metrics.reference.catalogue import OUTCOME_SHORT
from metrics.settings import load_settings
from ui import accessibility, auth, frame, presentation

st.set_page_config(page_title="Combating Drugs Partnership outcomes",
                   # A local file: a :material/ icon here makes the browser fetch the
                   # favicon from Google Fonts, and the app must work offline.
                   page_icon="static/favicon.png",
                   layout="wide")

overview = st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:",
                   default=True)
outcomes = [st.Page(f"pages/{key}.py", title=title, url_path=key)
            for key, title in OUTCOME_SHORT.items()]
# Metrics loaded from extracts that the catalogue does not list (metrics.ingest.definitions).
outcomes.append(st.Page("pages/other.py", title="Other metrics", url_path="other"))
pages = [
    st.Page("pages/exceptions.py", title="What needs attention", icon=":material/flag:",
            url_path="exceptions"),
    st.Page("pages/maps.py", title="Maps: where need is", icon=":material/map:", url_path="maps"),
    st.Page("pages/continuity.py", title="Continuity of care", icon=":material/sync_alt:", url_path="continuity"),
    st.Page("pages/data.py", title="Data: load and check", icon=":material/upload_file:",
            url_path="data"),
    st.Page("pages/present.py", title="Presentation mode", icon=":material/slideshow:",
            url_path="present"),
    st.Page("pages/accessibility.py", title="Accessibility statement",
            icon=":material/accessibility_new:", url_path="accessibility"),
]
# The audit log: listed for admins only, and refused on the server to anyone else.
pages += auth.admin_pages(load_settings())
# expanded: every page listed. Folded ("View 4 more"), the Data page and the accessibility
# statement were one click further away and out of a keyboard user's sight.
navigation = st.navigation({"": [overview], "Outcomes": outcomes, "Partnership": pages},
                           expanded=True)
# Presentation mode is always public: small counts are suppressed whatever the toggle says.
st.session_state["_context"] = frame.start(force_public=navigation.url_path == "present")
navigation.run()
if navigation.url_path != "present":   # a slide fills the projector: no footer there
    accessibility.footer()
# The slides of the area shown, built while the page is read (once per published version;
# started after the page, so its first run does not share the server with them).
presentation.prepare_in_background(st.session_state["_context"])
