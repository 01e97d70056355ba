//! The methods the Reporting API answers: one table with each method's
//! name, what it computes, what it needs, and the metadata that
//! `API.getReportMetadata` and `API.getProcessedReport` describe it with.

use crate::breakdown::EventPart;
use crate::report::{ActionReportKind, ReferrerPart};

pub(crate) use crate::visit_key::Grouping;

/// What a method computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    VisitsSummary,
    Actions,
    VisitFrequency,
    ApiGet,
    /// Page URLs: a folder tree, or flat with `flat=1`.
    PageUrls,
    Action(ActionReportKind),
    Entry {
        titles: bool,
    },
    Exit {
        titles: bool,
    },
    OnePage {
        titles: bool,
    },
    /// `Actions.getPageUrlsFollowingSiteSearch` / `getPageTitlesFollowingSiteSearch`.
    FollowingSearch {
        titles: bool,
    },
    /// `Actions.getDownload` / `getOutlink`: one URL's row.
    OneLink {
        outlink: bool,
    },
    /// `Actions.getSiteSearchNoResultKeywords`: the keywords whose
    /// searches all found no result.
    NoResultKeywords,
    Events(EventPart, EventPart),
    /// Device type, browser or OS family: one row per stored value.
    Field(FieldKind),
    Custom,
    Group(Grouping),
    Sections,
    LastVisits,
    VisitorProfile,
    /// `Live.getCounters`: visits, actions, visitors and conversions of
    /// the last `lastMinutes`.
    LiveCounters,
    /// `Live.getMostRecentVisitorId`.
    MostRecentVisitorId,
    /// `Transitions.getTransitionsForAction` (and its page URL and title
    /// forms).
    Transitions,
    /// `Live.getMostRecentVisitsDateTime`.
    MostRecentVisitsDateTime,
    MultiSites {
        one: bool,
    },
    /// `MultiSites.getAllWithGroups`: totals and the sites' rows.
    MultiSitesGroups,
    Sites {
        one: bool,
    },
    SiteIds,
    Version,
    Bulk,
    ReportMetadata,
    ProcessedReport,
    /// `API.getRowEvolution`: one report row over a series of periods.
    RowEvolution,
    ConfiguredDimensions,
    /// `Goals.get`: conversions of one goal or of all.
    Goals,
    /// `PagePerformance.get`: the page views' average load timings.
    PagePerformance,
    /// `Bandwidth.get`: the bytes of all actions, page views, downloads.
    Bandwidth,
    /// `Goals.getMetrics`: `Goals.get`'s first four columns.
    GoalMetrics,
    /// `Goals.getGoals`: the site's goal definitions.
    GoalDefinitions,
    /// `Goals.getVisitsUntilConversion`.
    VisitsUntilConversion,
    /// `Goals.getDaysToConversion`.
    DaysToConversion,
    /// `API.getSegmentsMetadata`: the segment names a site takes.
    SegmentsMetadata,
    /// `API.getSuggestedValuesForSegment`: values a segment name may take.
    SuggestedValues,
    /// `VisitsSummary.getColumns`: the columns `VisitsSummary.get`
    /// answers (hitmap's exact distinct visitors and users for every
    /// period).
    SummaryColumns,
    /// One number of another report (`VisitsSummary.getVisits`,
    /// `Referrers.getNumberOfDistinctWebsites`, ...): Matomo's scalar
    /// getters.
    Scalar(Scalar),
    /// `Referrers.get`: visits by channel, their shares, and the distinct
    /// referrers of each kind.
    ReferrersGet,
    /// `Goals.getItemsSku`, `getItemsName`, `getItemsCategory`.
    Items(crate::items::ItemsBy),
    /// `Contents.getContentNames`, `getContentPieces`.
    Contents(crate::contents::ContentsBy),
    /// `Goals.getGoal`: one goal's definition (`idGoal`).
    GoalDefinition,
    /// A named subtable getter (`Referrers.getKeywordsFromSearchEngineId`
    /// and the like): one row's subtable of another report, by
    /// `idSubtable`, its rows segmented as Matomo's.
    Subtable(SubtableOf),
    /// A Matomo method hitmap cannot answer, with the reason.
    Refused(&'static str),
}

/// A visit-level field reported as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldKind {
    Device,
    Browser,
    User,
}

/// What a scalar getter answers: a column of `VisitsSummary.get`, or the
/// number of rows of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scalar {
    /// A column of `VisitsSummary.get` (`sum_visit_length` pretty-printed
    /// when `pretty`).
    Summary(&'static str, bool),
    /// The rows of a report (flat).
    Rows(&'static str),
    /// A column of `Goals.get` (of the goal `idGoal` names, else of all).
    Goals(&'static str),
    /// `Goals.getConversionRate`: `Goals.get`'s conversion rates, of all
    /// visits, new visits and returning visits.
    ConversionRates,
}

impl Scalar {
    /// The request whose answer the scalar is taken from.
    pub(crate) fn source(self) -> &'static str {
        match self {
            Scalar::Summary(..) => "VisitsSummary.get",
            Scalar::Rows(method) => method,
            Scalar::Goals(_) | Scalar::ConversionRates => "Goals.get",
        }
    }
}

/// A named subtable getter's report and segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SubtableOf {
    /// The report whose row's subtable it answers.
    pub parent: &'static str,
    /// What each row's segment starts with, `{}` standing for the parent
    /// row's label (empty: none).
    pub prefix: &'static str,
    /// The segment field of the rows' labels.
    pub field: &'static str,
    /// The parent's `secondaryDimension` (events: the subtable's rows are
    /// taken as they are, segments included).
    pub secondary: Option<&'static str>,
    /// Without `idSubtable`: every parent row's subtable together
    /// (`Referrers.getUrlsForSocial`, as Matomo's), not an error.
    pub merged: bool,
}

/// What a method needs from the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Needs {
    /// `idSite`, `period` and `date`.
    Report,
    /// `idSite` only.
    Site,
    /// `period` and `date`, every site.
    Period,
    /// Nothing.
    Nothing,
}

/// The metric family of a report's rows (for metadata).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Visits,
    Pages,
    Hits,
    Entry,
    Exit,
    Events,
    Interest,
    /// Site search categories.
    SearchCategories,
    /// `Goals.get`.
    Goals,
    /// Rows that count conversions.
    Conversions,
    /// Ecommerce products.
    Products,
    /// Content impressions and interactions.
    Contents,
    None,
}

/// One method.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MethodInfo {
    pub name: &'static str,
    pub kind: Kind,
    pub category: &'static str,
    pub report: &'static str,
    pub dimension: Option<&'static str>,
    pub family: Family,
}

const fn m(
    name: &'static str,
    kind: Kind,
    category: &'static str,
    report: &'static str,
    dimension: Option<&'static str>,
    family: Family,
) -> MethodInfo {
    MethodInfo {
        name,
        kind,
        category,
        report,
        dimension,
        family,
    }
}

/// An Events named subtable getter: a row's subtable of `parent` by
/// `idSubtable`, grouped by `secondary` (`eventAction`, ...).
const fn event_subtable(
    name: &'static str,
    parent: &'static str,
    secondary: &'static str,
) -> MethodInfo {
    m(
        name,
        Kind::Subtable(SubtableOf {
            parent,
            prefix: "",
            field: "",
            secondary: Some(secondary),
            merged: false,
        }),
        EVENTS,
        "",
        None,
        Family::Events,
    )
}

/// A Referrers named subtable getter: a row's subtable of `parent` by
/// `idSubtable`, each row's segment `prefix` (`{}`: the parent row's
/// label) and `field==` its label; `merged`: see [`SubtableOf::merged`].
const fn referrer_subtable(
    name: &'static str,
    parent: &'static str,
    prefix: &'static str,
    field: &'static str,
    merged: bool,
) -> MethodInfo {
    m(
        name,
        Kind::Subtable(SubtableOf {
            parent,
            prefix,
            field,
            secondary: None,
            merged,
        }),
        REFERRERS,
        "",
        None,
        Family::Visits,
    )
}

use Family as F;
use Grouping as G;
use Kind as K;

const VISITS: &str = "Visitors";
const ACTIONS: &str = "Actions";
const REFERRERS: &str = "Acquisition";
const EVENTS: &str = "Events";
const API: &str = "API";
const GOALS: &str = "Goals";

/// Every method, in the order `API.getReportMetadata` lists reports.
pub(crate) const METHODS: &[MethodInfo] = &[
    m(
        "VisitsSummary.get",
        K::VisitsSummary,
        VISITS,
        "Visits Summary",
        None,
        F::Visits,
    ),
    m(
        "Actions.get",
        K::Actions,
        ACTIONS,
        "Actions - Main metrics",
        None,
        F::None,
    ),
    m(
        "PagePerformance.get",
        K::PagePerformance,
        ACTIONS,
        "Performance overview",
        None,
        F::None,
    ),
    m(
        "Bandwidth.get",
        K::Bandwidth,
        ACTIONS,
        "Bandwidth",
        None,
        F::None,
    ),
    m(
        "VisitFrequency.get",
        K::VisitFrequency,
        VISITS,
        "Returning Visits",
        None,
        F::None,
    ),
    m("API.get", K::ApiGet, API, "All metrics", None, F::None),
    m(
        "Actions.getPageUrls",
        K::PageUrls,
        ACTIONS,
        "Page URLs",
        Some("Page URL"),
        F::Pages,
    ),
    m(
        "Actions.getPageTitles",
        K::Action(ActionReportKind::PageTitles),
        ACTIONS,
        "Page titles",
        Some("Page Name"),
        F::Pages,
    ),
    m(
        "Actions.getEntryPageUrls",
        K::Entry { titles: false },
        ACTIONS,
        "Entry pages",
        Some("Entry Page URL"),
        F::Entry,
    ),
    m(
        "Actions.getExitPageUrls",
        K::Exit { titles: false },
        ACTIONS,
        "Exit pages",
        Some("Exit Page URL"),
        F::Exit,
    ),
    m(
        "Actions.getEntryPageTitles",
        K::Entry { titles: true },
        ACTIONS,
        "Entry page titles",
        Some("Entry Page Title"),
        F::Entry,
    ),
    m(
        "Actions.getExitPageTitles",
        K::Exit { titles: true },
        ACTIONS,
        "Exit page titles",
        Some("Exit Page Title"),
        F::Exit,
    ),
    m(
        "Actions.getPageUrl",
        K::OnePage { titles: false },
        ACTIONS,
        "Page URL",
        Some("Page URL"),
        F::Pages,
    ),
    m(
        "Actions.getPageTitle",
        K::OnePage { titles: true },
        ACTIONS,
        "Page title",
        Some("Page Name"),
        F::Pages,
    ),
    m(
        "Actions.getDownload",
        K::OneLink { outlink: false },
        ACTIONS,
        "Download",
        Some("Download URL"),
        F::Hits,
    ),
    m(
        "Actions.getOutlink",
        K::OneLink { outlink: true },
        ACTIONS,
        "Outlink",
        Some("Outlink URL"),
        F::Hits,
    ),
    m(
        "Actions.getDownloads",
        K::Action(ActionReportKind::Downloads),
        ACTIONS,
        "Downloads",
        Some("Download URL"),
        F::Hits,
    ),
    m(
        "Actions.getOutlinks",
        K::Action(ActionReportKind::Outlinks),
        ACTIONS,
        "Outlinks",
        Some("Outlink URL"),
        F::Hits,
    ),
    m(
        "Actions.getSiteSearchKeywords",
        K::Action(ActionReportKind::SiteSearchKeywords),
        ACTIONS,
        "Site Search Keywords",
        Some("Keyword (Site Search)"),
        F::Hits,
    ),
    m(
        "Actions.getPageUrlsFollowingSiteSearch",
        K::FollowingSearch { titles: false },
        ACTIONS,
        "Pages Following a Site Search",
        Some("Destination Page"),
        F::Pages,
    ),
    m(
        "Actions.getPageTitlesFollowingSiteSearch",
        K::FollowingSearch { titles: true },
        ACTIONS,
        "Page Titles Following a Site Search",
        Some("Destination Page"),
        F::Pages,
    ),
    m(
        "Actions.getSiteSearchNoResultKeywords",
        K::NoResultKeywords,
        ACTIONS,
        "Search Keywords with No Results",
        Some("Keyword (Site Search)"),
        F::Hits,
    ),
    m(
        "Actions.getSiteSearchCategories",
        K::Action(ActionReportKind::SiteSearchCategories),
        ACTIONS,
        "Search Categories",
        Some("Search Category"),
        F::SearchCategories,
    ),
    m(
        "Events.getCategory",
        K::Events(EventPart::Category, EventPart::Action),
        EVENTS,
        "Event Categories",
        Some("Event Category"),
        F::Events,
    ),
    m(
        "Events.getAction",
        K::Events(EventPart::Action, EventPart::Name),
        EVENTS,
        "Event Actions",
        Some("Event Action"),
        F::Events,
    ),
    m(
        "Events.getName",
        K::Events(EventPart::Name, EventPart::Action),
        EVENTS,
        "Event Names",
        Some("Event Name"),
        F::Events,
    ),
    event_subtable(
        "Events.getActionFromCategoryId",
        "Events.getCategory",
        "eventAction",
    ),
    event_subtable(
        "Events.getNameFromCategoryId",
        "Events.getCategory",
        "eventName",
    ),
    event_subtable(
        "Events.getCategoryFromActionId",
        "Events.getAction",
        "eventCategory",
    ),
    event_subtable(
        "Events.getNameFromActionId",
        "Events.getAction",
        "eventName",
    ),
    event_subtable(
        "Events.getActionFromNameId",
        "Events.getName",
        "eventAction",
    ),
    event_subtable(
        "Events.getCategoryFromNameId",
        "Events.getName",
        "eventCategory",
    ),
    m(
        "Referrers.getReferrerType",
        K::Group(G::ReferrerType),
        REFERRERS,
        "Channel Type",
        Some("Channel Type"),
        F::Visits,
    ),
    m(
        "Referrers.getAll",
        K::Group(G::ReferrerAll),
        REFERRERS,
        "Referrers",
        Some("Referrer"),
        F::Visits,
    ),
    m(
        "Referrers.getSearchEngines",
        K::Group(G::Referrer(ReferrerPart::SearchEngine)),
        REFERRERS,
        "Search Engines",
        Some("Search Engine"),
        F::Visits,
    ),
    m(
        "Referrers.getKeywords",
        K::Group(G::Referrer(ReferrerPart::Keyword)),
        REFERRERS,
        "Keywords",
        Some("Keyword"),
        F::Visits,
    ),
    m(
        "Referrers.getWebsites",
        K::Group(G::Referrer(ReferrerPart::Website)),
        REFERRERS,
        "Websites",
        Some("Website"),
        F::Visits,
    ),
    m(
        "Referrers.getSocials",
        K::Group(G::Referrer(ReferrerPart::Social)),
        REFERRERS,
        "Social Networks",
        Some("Social Network"),
        F::Visits,
    ),
    m(
        "Referrers.getCampaigns",
        K::Group(G::Referrer(ReferrerPart::Campaign)),
        REFERRERS,
        "Campaigns",
        Some("Campaign"),
        F::Visits,
    ),
    referrer_subtable(
        "Referrers.getKeywordsFromSearchEngineId",
        "Referrers.getSearchEngines",
        "referrerName=={};referrerType==search;",
        "referrerKeyword",
        false,
    ),
    referrer_subtable(
        "Referrers.getSearchEnginesFromKeywordId",
        "Referrers.getKeywords",
        "referrerKeyword=={};referrerType==search;",
        "referrerName",
        false,
    ),
    referrer_subtable(
        "Referrers.getKeywordsFromCampaignId",
        "Referrers.getCampaigns",
        "referrerName=={};referrerType==campaign;",
        "referrerKeyword",
        false,
    ),
    referrer_subtable(
        "Referrers.getUrlsFromWebsiteId",
        "Referrers.getWebsites",
        "",
        "referrerUrl",
        false,
    ),
    referrer_subtable(
        "Referrers.getUrlsForSocial",
        "Referrers.getSocials",
        "",
        "referrerUrl",
        true,
    ),
    m(
        "Referrers.getAIAssistants",
        K::Group(G::Referrer(ReferrerPart::AiAssistant)),
        REFERRERS,
        "AI Assistants",
        Some("AI Assistant"),
        F::Visits,
    ),
    m(
        "VisitTime.getVisitInformationPerServerTime",
        K::Group(G::ServerHour),
        VISITS,
        "Visits per server time",
        Some("Server time"),
        F::Visits,
    ),
    m(
        "VisitTime.getVisitInformationPerLocalTime",
        K::Group(G::LocalHour),
        VISITS,
        "Visits per local time",
        Some("Local time"),
        F::Visits,
    ),
    m(
        "VisitTime.getByDayOfWeek",
        K::Group(G::DayOfWeek),
        VISITS,
        "Visits by Day of Week",
        Some("Day of the week"),
        F::Visits,
    ),
    m(
        "VisitorInterest.getNumberOfVisitsPerVisitDuration",
        K::Group(G::Duration),
        VISITS,
        "Visits per visit duration",
        Some("Visit duration"),
        F::Interest,
    ),
    m(
        "VisitorInterest.getNumberOfVisitsPerPage",
        K::Group(G::Pages),
        VISITS,
        "Visits per number of pages",
        Some("Number of pages"),
        F::Interest,
    ),
    m(
        "VisitorInterest.getNumberOfVisitsByVisitCount",
        K::Group(G::VisitCount),
        VISITS,
        "Visits by visit number",
        Some("Visit number"),
        F::Interest,
    ),
    m(
        "VisitorInterest.getNumberOfVisitsByDaysSinceLast",
        K::Group(G::DaysSinceLast),
        VISITS,
        "Visits by days since last visit",
        Some("Days since last visit"),
        F::Interest,
    ),
    m(
        "UserCountry.getCountry",
        K::Group(G::Country),
        VISITS,
        "Country",
        Some("Country"),
        F::Visits,
    ),
    m(
        "UserCountry.getRegion",
        K::Group(G::Region),
        VISITS,
        "Region",
        Some("Region"),
        F::Visits,
    ),
    m(
        "UserCountry.getCity",
        K::Group(G::City),
        VISITS,
        "City",
        Some("City"),
        F::Visits,
    ),
    m(
        "UserCountry.getContinent",
        K::Group(G::Continent),
        VISITS,
        "Continent",
        Some("Continent"),
        F::Visits,
    ),
    m(
        "UserLanguage.getLanguage",
        K::Group(G::Language),
        VISITS,
        "Browser language",
        Some("Language"),
        F::Visits,
    ),
    m(
        "UserLanguage.getLanguageCode",
        K::Group(G::LanguageCode),
        VISITS,
        "Language code",
        Some("Language code"),
        F::Visits,
    ),
    m(
        "UserId.getUsers",
        K::Field(FieldKind::User),
        VISITS,
        "User IDs",
        Some("User ID"),
        F::Visits,
    ),
    m(
        "DevicesDetection.getType",
        K::Field(FieldKind::Device),
        VISITS,
        "Device type",
        Some("Device type"),
        F::Visits,
    ),
    m(
        "DevicesDetection.getBrowsers",
        K::Field(FieldKind::Browser),
        VISITS,
        "Browsers",
        Some("Browser"),
        F::Visits,
    ),
    m(
        "DevicesDetection.getBrowserVersions",
        K::Group(G::BrowserVersion),
        VISITS,
        "Browser version",
        Some("Browser version"),
        F::Visits,
    ),
    m(
        "DevicesDetection.getOsFamilies",
        K::Group(G::OsFamily),
        VISITS,
        "Operating System families",
        Some("Operating System family"),
        F::Visits,
    ),
    m(
        "DevicesDetection.getOsVersions",
        K::Group(G::OsVersion),
        VISITS,
        "Operating System versions",
        Some("Operating System version"),
        F::Visits,
    ),
    m(
        "DevicesDetection.getBrand",
        K::Group(G::Brand),
        VISITS,
        "Device brand",
        Some("Device brand"),
        F::Visits,
    ),
    m(
        "DevicesDetection.getModel",
        K::Group(G::Model),
        VISITS,
        "Device model",
        Some("Device model"),
        F::Visits,
    ),
    m(
        "DevicesDetection.getBrowserEngines",
        K::Group(G::Engine),
        VISITS,
        "Browser engines",
        Some("Browser engine"),
        F::Visits,
    ),
    m(
        "DevicesDetection.getBrowserFamilies",
        K::Refused(
            "hits carry no browser family (the hit contract has `browser` and its version only; DevicesDetection.getBrowsers groups by browser)",
        ),
        VISITS,
        "",
        None,
        F::None,
    ),
    m(
        "DevicePlugins.getPlugin",
        K::Group(G::Plugins),
        VISITS,
        "Browser Plugins",
        Some("Plugin"),
        F::Interest,
    ),
    m(
        "Resolution.getResolution",
        K::Group(G::Resolution),
        VISITS,
        "Screen Resolution",
        Some("Resolution"),
        F::Visits,
    ),
    m(
        "Resolution.getConfiguration",
        K::Group(G::Configuration),
        VISITS,
        "Configurations",
        Some("Configuration"),
        F::Visits,
    ),
    m(
        "CustomDimensions.getCustomDimension",
        K::Custom,
        VISITS,
        "Custom dimension",
        Some("Custom dimension"),
        F::Visits,
    ),
    m(
        "CustomDimensions.getConfiguredCustomDimensions",
        K::ConfiguredDimensions,
        API,
        "",
        None,
        F::None,
    ),
    m(
        "Hitmap.getSections",
        K::Sections,
        ACTIONS,
        "Sections",
        Some("Section"),
        F::Visits,
    ),
    m(
        "Live.getLastVisitsDetails",
        K::LastVisits,
        VISITS,
        "",
        None,
        F::None,
    ),
    m(
        "Live.getVisitorProfile",
        K::VisitorProfile,
        VISITS,
        "",
        None,
        F::None,
    ),
    m(
        "Transitions.getTransitionsForAction",
        K::Transitions,
        ACTIONS,
        "",
        None,
        F::None,
    ),
    m(
        "Transitions.getTransitionsForPageUrl",
        K::Transitions,
        ACTIONS,
        "",
        None,
        F::None,
    ),
    m(
        "Transitions.getTransitionsForPageTitle",
        K::Transitions,
        ACTIONS,
        "",
        None,
        F::None,
    ),
    m(
        "Live.getCounters",
        K::LiveCounters,
        VISITS,
        "",
        None,
        F::None,
    ),
    m(
        "Live.getMostRecentVisitorId",
        K::MostRecentVisitorId,
        VISITS,
        "",
        None,
        F::None,
    ),
    m(
        "Live.getMostRecentVisitsDateTime",
        K::MostRecentVisitsDateTime,
        VISITS,
        "",
        None,
        F::None,
    ),
    m(
        "MultiSites.getAll",
        K::MultiSites { one: false },
        "All Websites",
        "All Websites dashboard",
        Some("Website"),
        F::None,
    ),
    m(
        "MultiSites.getAllWithGroups",
        K::MultiSitesGroups,
        "All Websites",
        "",
        None,
        F::None,
    ),
    m(
        "MultiSites.getOne",
        K::MultiSites { one: true },
        "All Websites",
        "All Websites dashboard",
        Some("Website"),
        F::None,
    ),
    m(
        "SitesManager.getSitesWithAtLeastViewAccess",
        K::Sites { one: false },
        API,
        "",
        None,
        F::None,
    ),
    m(
        "SitesManager.getAllSites",
        K::Sites { one: false },
        API,
        "",
        None,
        F::None,
    ),
    m(
        "SitesManager.getSiteFromId",
        K::Sites { one: true },
        API,
        "",
        None,
        F::None,
    ),
    m(
        "SitesManager.getAllSitesId",
        K::SiteIds,
        API,
        "",
        None,
        F::None,
    ),
    m(
        "SitesManager.getSitesIdWithAtLeastViewAccess",
        K::SiteIds,
        API,
        "",
        None,
        F::None,
    ),
    m("API.getMatomoVersion", K::Version, API, "", None, F::None),
    m(
        "API.getRowEvolution",
        K::RowEvolution,
        API,
        "",
        None,
        F::None,
    ),
    m("Goals.get", K::Goals, GOALS, "Goals", None, F::Goals),
    m("Goals.getMetrics", K::GoalMetrics, GOALS, "", None, F::None),
    // Matomo's single-metric getters of Goals.get.
    m(
        "Goals.getConversions",
        K::Scalar(Scalar::Goals("nb_conversions")),
        GOALS,
        "",
        None,
        F::None,
    ),
    m(
        "Goals.getNbVisitsConverted",
        K::Scalar(Scalar::Goals("nb_visits_converted")),
        GOALS,
        "",
        None,
        F::None,
    ),
    m(
        "Goals.getConversionRate",
        K::Scalar(Scalar::ConversionRates),
        GOALS,
        "",
        None,
        F::None,
    ),
    m(
        "Goals.getRevenue",
        K::Scalar(Scalar::Goals("revenue")),
        GOALS,
        "",
        None,
        F::None,
    ),
    m(
        "Goals.getGoals",
        K::GoalDefinitions,
        GOALS,
        "",
        None,
        F::None,
    ),
    m("Goals.getGoal", K::GoalDefinition, GOALS, "", None, F::None),
    m(
        "Goals.getVisitsUntilConversion",
        K::VisitsUntilConversion,
        GOALS,
        "Visits to Conversion",
        Some("Visits to Conversion"),
        F::Conversions,
    ),
    m(
        "Goals.getDaysToConversion",
        K::DaysToConversion,
        GOALS,
        "Days to Conversion",
        Some("Days to Conversion"),
        F::Conversions,
    ),
    m(
        "Goals.getItemsSku",
        K::Items(crate::items::ItemsBy::Sku),
        GOALS,
        "Product SKU",
        Some("Product SKU"),
        F::Products,
    ),
    m(
        "Goals.getItemsName",
        K::Items(crate::items::ItemsBy::Name),
        GOALS,
        "Product Name",
        Some("Product Name"),
        F::Products,
    ),
    m(
        "Goals.getItemsCategory",
        K::Items(crate::items::ItemsBy::Category),
        GOALS,
        "Product Category",
        Some("Product Category"),
        F::Products,
    ),
    m(
        "Contents.getContentNames",
        K::Contents(crate::contents::ContentsBy::Name),
        ACTIONS,
        "Content Name",
        Some("Content Name"),
        F::Contents,
    ),
    m(
        "Contents.getContentPieces",
        K::Contents(crate::contents::ContentsBy::Piece),
        ACTIONS,
        "Content Piece",
        Some("Content Piece"),
        F::Contents,
    ),
    m("API.getPiwikVersion", K::Version, API, "", None, F::None),
    m(
        "VisitsSummary.getVisits",
        K::Scalar(Scalar::Summary("nb_visits", false)),
        VISITS,
        "",
        None,
        F::None,
    ),
    m(
        "VisitsSummary.getUniqueVisitors",
        K::Scalar(Scalar::Summary("nb_uniq_visitors", false)),
        VISITS,
        "",
        None,
        F::None,
    ),
    m(
        "VisitsSummary.getUsers",
        K::Scalar(Scalar::Summary("nb_users", false)),
        VISITS,
        "",
        None,
        F::None,
    ),
    m(
        "VisitsSummary.getActions",
        K::Scalar(Scalar::Summary("nb_actions", false)),
        VISITS,
        "",
        None,
        F::None,
    ),
    m(
        "VisitsSummary.getMaxActions",
        K::Scalar(Scalar::Summary("max_actions", false)),
        VISITS,
        "",
        None,
        F::None,
    ),
    m(
        "VisitsSummary.getBounceCount",
        K::Scalar(Scalar::Summary("bounce_count", false)),
        VISITS,
        "",
        None,
        F::None,
    ),
    m(
        "VisitsSummary.getVisitsConverted",
        K::Scalar(Scalar::Summary("nb_visits_converted", false)),
        VISITS,
        "",
        None,
        F::None,
    ),
    m(
        "VisitsSummary.getSumVisitsLength",
        K::Scalar(Scalar::Summary("sum_visit_length", false)),
        VISITS,
        "",
        None,
        F::None,
    ),
    m(
        "VisitsSummary.getSumVisitsLengthPretty",
        K::Scalar(Scalar::Summary("sum_visit_length", true)),
        VISITS,
        "",
        None,
        F::None,
    ),
    m(
        "Referrers.get",
        K::ReferrersGet,
        REFERRERS,
        "",
        None,
        F::None,
    ),
    m(
        "Referrers.getNumberOfDistinctSearchEngines",
        K::Scalar(Scalar::Rows("Referrers.getSearchEngines")),
        REFERRERS,
        "",
        None,
        F::None,
    ),
    m(
        "Referrers.getNumberOfDistinctSocialNetworks",
        K::Scalar(Scalar::Rows("Referrers.getSocials")),
        REFERRERS,
        "",
        None,
        F::None,
    ),
    m(
        "Referrers.getNumberOfDistinctKeywords",
        K::Scalar(Scalar::Rows("Referrers.getKeywords")),
        REFERRERS,
        "",
        None,
        F::None,
    ),
    m(
        "Referrers.getNumberOfDistinctCampaigns",
        K::Scalar(Scalar::Rows("Referrers.getCampaigns")),
        REFERRERS,
        "",
        None,
        F::None,
    ),
    m(
        "Referrers.getNumberOfDistinctWebsites",
        K::Scalar(Scalar::Rows("Referrers.getWebsites")),
        REFERRERS,
        "",
        None,
        F::None,
    ),
    m(
        "Referrers.getNumberOfDistinctWebsitesUrls",
        K::Scalar(Scalar::Rows("Referrers.getWebsites&flat=1")),
        REFERRERS,
        "",
        None,
        F::None,
    ),
    m(
        "UserCountry.getNumberOfDistinctCountries",
        K::Scalar(Scalar::Rows("UserCountry.getCountry")),
        VISITS,
        "",
        None,
        F::None,
    ),
    m(
        "API.getSegmentsMetadata",
        K::SegmentsMetadata,
        API,
        "",
        None,
        F::None,
    ),
    m(
        "API.getSuggestedValuesForSegment",
        K::SuggestedValues,
        API,
        "",
        None,
        F::None,
    ),
    m(
        "VisitsSummary.getColumns",
        K::SummaryColumns,
        VISITS,
        "",
        None,
        F::None,
    ),
    m("API.getBulkRequest", K::Bulk, API, "", None, F::None),
    m(
        "API.getReportMetadata",
        K::ReportMetadata,
        API,
        "",
        None,
        F::None,
    ),
    m(
        "API.getProcessedReport",
        K::ProcessedReport,
        API,
        "",
        None,
        F::None,
    ),
];

impl Kind {
    pub(crate) fn needs(self) -> Needs {
        match self {
            K::Sites { one: true }
            | K::ConfiguredDimensions
            | K::GoalDefinitions
            | K::GoalDefinition
            | K::SegmentsMetadata
            | K::SuggestedValues
            | K::SummaryColumns
            | K::VisitorProfile
            | K::LiveCounters
            | K::MostRecentVisitorId
            | K::MostRecentVisitsDateTime => Needs::Site,
            K::Sites { one: false }
            | K::SiteIds
            | K::Version
            | K::Bulk
            | K::ReportMetadata
            | K::Refused(_) => Needs::Nothing,
            K::MultiSites { one: false } | K::MultiSitesGroups => Needs::Period,
            _ => Needs::Report,
        }
    }
}

/// A method by its `Module.action` name.
pub(crate) fn find(name: &str) -> Option<&'static MethodInfo> {
    METHODS.iter().find(|m| m.name == name)
}

/// Whether a method answers a report (listed by `API.getReportMetadata`).
pub(crate) fn is_report(m: &MethodInfo) -> bool {
    !m.report.is_empty()
}

/// Column names with Matomo's titles for them.
pub(crate) type Titles = &'static [(&'static str, &'static str)];

/// The columns a family's rows carry (metrics, then processed metrics),
/// with Matomo's titles for them.
pub(crate) fn family_metrics(f: Family) -> (Titles, Titles) {
    match f {
        F::Visits => (
            &[
                ("nb_visits", "Visits"),
                ("nb_uniq_visitors", "Unique visitors"),
                ("nb_users", "Users"),
                ("nb_actions", "Actions"),
                ("max_actions", "Maximum actions in one visit"),
                ("bounce_count", "Bounces"),
                (
                    "sum_visit_length",
                    "Total time spent by visitors (in seconds)",
                ),
            ],
            &[
                ("bounce_rate", "Bounce Rate"),
                ("nb_actions_per_visit", "Actions per Visit"),
                ("avg_time_on_site", "Avg. Visit Duration (in seconds)"),
            ],
        ),
        F::Pages => (
            &[
                ("nb_hits", "Pageviews"),
                ("nb_visits", "Unique Pageviews"),
                ("nb_uniq_visitors", "Unique visitors"),
                ("sum_time_spent", "Total time spent (in seconds)"),
                ("entry_nb_visits", "Entrances"),
                ("entry_bounce_count", "Bounces"),
                ("exit_nb_visits", "Exits"),
            ],
            &[
                ("avg_time_on_page", "Avg. time on page"),
                ("bounce_rate", "Bounce Rate"),
                ("exit_rate", "Exit rate"),
            ],
        ),
        F::Hits => (
            &[
                ("nb_hits", "Hits"),
                ("nb_visits", "Unique visits"),
                ("nb_uniq_visitors", "Unique visitors"),
            ],
            &[],
        ),
        F::Entry => (
            &[
                ("entry_nb_visits", "Entrances"),
                ("entry_nb_uniq_visitors", "Unique visitors"),
                ("entry_nb_actions", "Actions by entrances"),
                (
                    "entry_sum_visit_length",
                    "Total time spent by entrances (in seconds)",
                ),
                ("entry_bounce_count", "Bounces"),
            ],
            &[
                ("bounce_rate", "Bounce Rate"),
                ("avg_time_on_site", "Avg. Visit Duration (in seconds)"),
                ("nb_actions_per_visit", "Actions per Visit"),
            ],
        ),
        F::Exit => (
            &[
                ("exit_nb_visits", "Exits"),
                ("exit_nb_uniq_visitors", "Unique visitors"),
                ("nb_visits", "Unique Pageviews"),
            ],
            &[("exit_rate", "Exit rate")],
        ),
        F::Events => (
            &[
                ("nb_events", "Events"),
                ("nb_visits", "Visits"),
                ("nb_uniq_visitors", "Unique visitors"),
                ("sum_event_value", "Total Event Value"),
                ("min_event_value", "Minimum Event Value"),
                ("max_event_value", "Maximum Event Value"),
                ("nb_events_with_value", "Events with a Value"),
            ],
            &[("avg_event_value", "Average Event Value")],
        ),
        F::Interest => (&[("nb_visits", "Visits")], &[]),
        F::SearchCategories => (
            &[("nb_visits", "Visits"), ("nb_actions", "Actions")],
            &[("nb_pages_per_search", "Search Results Pages")],
        ),
        F::Goals => (
            &[
                ("nb_conversions", "Conversions"),
                ("nb_visits_converted", "Visits converted"),
                ("revenue", "Revenue"),
            ],
            &[("conversion_rate", "Conversion Rate")],
        ),
        F::Conversions => (&[("nb_conversions", "Conversions")], &[]),
        F::Products => (
            &[
                ("revenue", "Product Revenue"),
                ("quantity", "Quantity"),
                ("orders", "Unique Purchases"),
            ],
            &[
                ("avg_price", "Average Price"),
                ("avg_quantity", "Average Quantity"),
                ("conversion_rate", "Product Conversion Rate"),
            ],
        ),
        F::Contents => (
            &[
                ("nb_impressions", "Impressions"),
                ("nb_interactions", "Interactions"),
            ],
            &[("interaction_rate", "Interaction Rate")],
        ),
        F::None => (&[], &[]),
    }
}

/// The columns a flattened report names its rows' parts by (Matomo's
/// report dimension and subtable dimension ids, `.` as `_`), for the
/// reports with subtables; `secondary`: an events report's
/// `secondaryDimension`.
pub(crate) fn flat_dimensions(
    method: &str,
    secondary: Option<&str>,
) -> Option<crate::table::FlatDimensions> {
    let event = |name: &str| match name {
        "eventCategory" => Some("Events_EventCategory"),
        "eventAction" => Some("Events_EventAction"),
        "eventName" => Some("Events_EventName"),
        _ => None,
    };
    let events = |own: &'static str, default: &'static str| {
        Some((own, secondary.and_then(event).unwrap_or(default)))
    };
    match method {
        "Actions.getPageUrls" => Some(("Actions_PageUrl", "Actions_PageUrl")),
        "Actions.getPageTitles" => Some(("Actions_PageTitle", "Actions_PageTitle")),
        "Actions.getEntryPageUrls" => Some(("Actions_EntryPageUrl", "Actions_EntryPageUrl")),
        "Actions.getExitPageUrls" => Some(("Actions_ExitPageUrl", "Actions_ExitPageUrl")),
        "Actions.getEntryPageTitles" => Some(("Actions_EntryPageTitle", "Actions_EntryPageTitle")),
        "Actions.getExitPageTitles" => Some(("Actions_ExitPageTitle", "Actions_ExitPageTitle")),
        "Actions.getDownloads" => Some(("Actions_DownloadUrl", "Actions_DownloadUrl")),
        "Actions.getOutlinks" => Some(("Actions_ClickedUrl", "Actions_ClickedUrl")),
        "Referrers.getSearchEngines" => Some(("Referrers_SearchEngine", "Referrers_Keyword")),
        "Referrers.getKeywords" => Some(("Referrers_Keyword", "Referrers_SearchEngine")),
        "Referrers.getCampaigns" => Some(("Referrers_Campaign", "Referrers_Keyword")),
        "Referrers.getSocials" => Some(("Referrers_SocialNetwork", "Referrers_WebsitePage")),
        "Referrers.getWebsites" => Some(("Referrers_Website", "Referrers_WebsitePage")),
        "Events.getCategory" => events("Events_EventCategory", "Events_EventAction"),
        "Events.getAction" => events("Events_EventAction", "Events_EventName"),
        "Events.getName" => events("Events_EventName", "Events_EventAction"),
        "Contents.getContentNames" => Some(("Contents_ContentName", "Contents_ContentPiece")),
        "Contents.getContentPieces" => Some(("Contents_ContentPiece", "Contents_ContentName")),
        _ => None,
    }
}
