"""Compositions of the verbs: ``compress`` (distil → prune → export per target → measure → report), the steps it
shares with ``edgekd run`` and every sweep trial (``steps``), and measuring an artifact into a report row
(``measuring``). Above the API (``.importlinter``): the verbs never import the flow."""
