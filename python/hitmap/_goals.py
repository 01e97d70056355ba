"""Goals of a site: defined, edited and removed at any time; conversions
are computed from the stored actions when asked, so a new goal answers
for every past day at once (``Goals.get``, ``VisitsSummary.get``)."""

from __future__ import annotations

import json
from typing import Any, Dict, List

MATCH_ATTRIBUTES = (
    "url",
    "title",
    "file",
    "external_website",
    "event_category",
    "event_action",
    "event_name",
    "manually",
)


class GoalsMixin:
    """The goal methods of :class:`hitmap.Engine`."""

    _engine: Any

    def set_goal(
        self,
        site: int,
        id: int,
        name: str,
        match: str = "url",
        pattern: str = "",
        pattern_type: str = "contains",
        case_sensitive: bool = False,
        allow_multiple: bool = False,
        revenue: float = 0.0,
        event_value_as_revenue: bool = False,
        description: str = "",
    ) -> None:
        """Adds a goal to a site, or replaces the site's goal ``id``.

        Parameters
        ----------
        site : int
            The site id.
        id : int
            The goal id (Matomo's ``idgoal``), from 1.
        name : str
            The goal's name.
        match : str
            What converts: one of ``MATCH_ATTRIBUTES`` (``url``, ``title``,
            ``file``, ``external_website``, ``event_category``,
            ``event_action``, ``event_name``, ``manually``).
        pattern : str
            What the value is compared with (not for ``manually``).
        pattern_type : str
            ``contains``, ``exact`` or ``regex``.
        case_sensitive : bool
            Compare case-sensitively (ASCII case is ignored otherwise).
        allow_multiple : bool
            Convert once a second in a visit, not once a visit.
        revenue : float
            Revenue of each conversion.
        event_value_as_revenue : bool
            An event goal's conversion earns its event's value.
        description : str
            Shown by ``Goals.getGoals``.

        Examples
        --------
        >>> import hitmap
        >>> e = hitmap.Engine.in_memory()
        >>> e.add_site(1)
        >>> e.set_goal(1, 1, "Contact", match="url", pattern="/contact/sent", revenue=5)
        >>> [g["name"] for g in e.goals(1)]
        ['Contact']
        >>> e.remove_goal(1, 1)
        True
        """
        self._engine.set_goal(
            site,
            json.dumps(
                {
                    "idgoal": id,
                    "name": name,
                    "match_attribute": match,
                    "pattern": pattern,
                    "pattern_type": pattern_type,
                    "case_sensitive": case_sensitive,
                    "allow_multiple": allow_multiple,
                    "revenue": revenue,
                    "event_value_as_revenue": event_value_as_revenue,
                    "description": description,
                }
            ),
        )

    def remove_goal(self, site: int, id: int) -> bool:
        """Removes a site's goal; whether it had one with that id."""
        return bool(self._engine.remove_goal(site, id))

    def goals(self, site: int) -> List[Dict[str, Any]]:
        """The site's goals as ``Goals.getGoals`` lists them, by id."""
        by_id = json.loads(self._engine.api_json(f"method=Goals.getGoals&idSite={site}&format=json", None))
        return [by_id[k] for k in sorted(by_id, key=int)]
