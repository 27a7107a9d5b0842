"""The permission catalog: what each feature of a connection needs, and why.

A connection asks for exactly what its chosen features need (least privilege). The
consent pages render these tables, so every line is written for the tenant admin who has
to decide: what it reads, what the portal keeps, and why it is needed.

Names, types and endpoints come from Microsoft's and Atlassian's references (and the
products described in shared/seeds/); the descriptions are ours.
"""

from dataclasses import dataclass, field

DELEGATED = "delegated"
APPLICATION = "application"


@dataclass(frozen=True)
class GraphPermission:
    name: str
    kind: str  # DELEGATED or APPLICATION
    reads: str
    stores: str
    why: str  # why the data is collected
    why_store: str = ""  # why what is stored is kept

    @property
    def why_collect(self) -> str:
        return self.why


@dataclass(frozen=True)
class AtlassianScope:
    name: str
    reads: str
    why: str


@dataclass(frozen=True)
class Feature:
    key: str
    title: str
    summary: str
    graph: tuple[GraphPermission, ...] = ()
    atlassian: tuple[AtlassianScope, ...] = ()
    products: tuple[str, ...] = field(default=("jira", "confluence", "jsm"))
    # Who the feature's messages in Teams are posted as, in the admin's words (empty: it posts none).
    posts: str = ""
    # Scopes of an Atlassian organization API key (admin.atlassian.com), not of a site's OAuth
    # grant: the feature reads the organization, never asks a site for them.
    atlassian_org: tuple[AtlassianScope, ...] = ()


# --- Microsoft Graph permissions ------------------------------------------------------------

USER_READ = GraphPermission(
    "User.Read",
    DELEGATED,
    reads="The signed-in admin's own profile: name, user principal name, object id.",
    stores="Name, user principal name and object id of whoever granted consent, in the grant record.",
    why="To record who granted the permissions, and to sign the admin in.",
    why_store="So the grant record says who consented, for the organization's audit.",
)
TEAM_READBASIC_DELEGATED = GraphPermission(
    "Team.ReadBasic.All",
    DELEGATED,
    reads="Names, descriptions and ids of the teams the signed-in user has joined.",
    stores="Team id and name of the teams chosen as notification targets.",
    why="So an admin can pick, in the portal, which team receives notifications.",
    why_store="To send notifications to the chosen team until the admin changes it.",
)
CHANNEL_READBASIC_DELEGATED = GraphPermission(
    "Channel.ReadBasic.All",
    DELEGATED,
    reads="Names, descriptions and ids of channels in those teams.",
    stores="Channel id and name of the channels chosen as notification targets.",
    why="So an admin can pick the channel that Jira or Confluence notifications go to.",
    why_store="To send notifications to the chosen channel until the admin changes it.",
)
USER_READBASIC_ALL_DELEGATED = GraphPermission(
    "User.ReadBasic.All",
    DELEGATED,
    reads="The display name and user principal name of each incident responder's matched Microsoft user.",
    stores="Nothing.",
    why="To check that each responder's matched Microsoft user is still in the directory, and whether a guest "
    "(Teams requires the guest role for them), before adding them to an incident chat.",
    why_store="Nothing is stored.",
)
CHAT_CREATE_DELEGATED = GraphPermission(
    "Chat.Create",
    DELEGATED,
    reads="Nothing; it creates group chats as the signed-in user.",
    stores="The chat id and its link, with the incident it was created for.",
    why="To open an incident chat from the portal's incident page.",
    why_store="To add late responders to the same chat, and never to create a second chat for one incident.",
)
CHATMEMBER_READWRITE_DELEGATED = GraphPermission(
    "ChatMember.ReadWrite",
    DELEGATED,
    reads="Members of the incident chats the signed-in user created.",
    stores="The Microsoft user ids of an incident chat's members.",
    why="To add responders who joined the incident after its chat was created.",
    why_store="To show how many people are in the incident's chat.",
)
ONLINE_MEETINGS_DELEGATED = GraphPermission(
    "OnlineMeetings.ReadWrite",
    DELEGATED,
    reads="Online meetings the signed-in user organizes.",
    stores="The meeting's join link, linked to its incident.",
    why="To start a Teams meeting for an incident from the portal's incident page or an automation rule.",
    why_store="To link the meeting to its incident, so responders find it.",
)
APP_IN_CHAT_DELEGATED = GraphPermission(
    "TeamsAppInstallation.ReadWriteSelfForChat",
    DELEGATED,
    reads="Nothing; it installs the portal's Teams app in a chat.",
    stores="Whether the app is installed in the incident's chat.",
    why="To install the portal's app in an incident chat so it can post incident updates there.",
    why_store="To install it again later (with Sync members) if it was not installed.",
)
# Asked for by no feature at present: incident chats install the app into chats, not teams. Kept for
# the Teams notifications, which post through the app into a team's channel.
APP_IN_TEAM_DELEGATED = GraphPermission(
    "TeamsAppInstallation.ReadWriteSelfForTeam",
    DELEGATED,
    reads="Whether the portal's Teams app is installed in a team.",
    stores="Nothing.",
    why="To add the portal's Teams app to the team an admin picks for notifications (or incident work): "
    "Teams lets the app's bot post only in teams it was added to.",
    why_store="To remove the app from the team again when the connection is removed.",
)
APP_CATALOG_READ_DELEGATED = GraphPermission(
    "AppCatalog.Read.All",
    DELEGATED,
    reads="The tenant's Teams app catalog entry of the portal's own app (looked up by the app's manifest id).",
    stores="The catalog id of the portal's own Teams app, for incident chats.",
    why="The tenant gives the portal's Teams app an id of its own when it is added to the catalog; installing the "
    "app in an incident chat or adding it to a team needs that id.",
    why_store="To install the app in later incident chats without looking it up again (for teams it is looked up "
    "again each time).",
)
APP_FOR_USER_DELEGATED = GraphPermission(
    "TeamsAppInstallation.ReadWriteSelfForUser",
    DELEGATED,
    reads="Nothing; it installs the portal's Teams app for the signed-in user.",
    stores="Nothing.",
    why="To install the portal's app for the admin who creates incident chats, so its bot can talk with "
    "them one to one.",
    why_store="Nothing is stored.",
)
CHAT_CREATE_APP = GraphPermission(
    "Chat.Create",
    APPLICATION,
    reads="Nothing; it creates group chats without a signed-in user.",
    stores="The chat id and its link, with the incident it was created for.",
    why="Automation rules open incident chats on their own; as a delegated call the rule's author "
    "would be added to every chat.",
    why_store="To add late responders to the same chat, and never to create a second chat for one incident.",
)
CHATMEMBER_READWRITE_APP = GraphPermission(
    "ChatMember.ReadWrite.All",
    APPLICATION,
    reads="Members of the incident chats the portal's app created.",
    stores="The Microsoft user ids of an incident chat's members.",
    why="Automation rules add responders who joined an incident later to its chat, without a signed-in user.",
    why_store="To show how many people are in the incident's chat.",
)
APP_IN_CHAT_APP = GraphPermission(
    "TeamsAppInstallation.ReadWriteSelfForChat.All",
    APPLICATION,
    reads="Nothing; it installs the portal's Teams app in a chat.",
    stores="Whether the app is installed in the incident's chat.",
    why="Automation rules install the portal's app in the incident chats they create.",
    why_store="To install it again later (with Sync members) if it was not installed.",
)
USER_READ_ALL_APP = GraphPermission(
    "User.Read.All",
    APPLICATION,
    reads="Every user's id, mail, user principal name and other addresses (only these fields are selected).",
    stores="Only Microsoft user ids, paired with Atlassian account ids. Email addresses are used for "
    "matching and not stored, unless your organization turns that on.",
    why="To match Atlassian accounts with Microsoft 365 users by email, so people are mentioned and "
    "invited as themselves.",
    why_store="So matched users stay matched between runs; only ids are kept, emails only if the organization allows.",
)
TEAM_READBASIC_APP = GraphPermission(
    "Team.ReadBasic.All",
    APPLICATION,
    reads="Names, descriptions, visibility and ids of teams.",
    stores="Team ids, names and visibility, for choosing which channels to read.",
    why="To list the teams whose channels are read, without depending on one person's account.",
    why_store="To read new messages of the chosen teams until the admin changes them.",
)
CHANNEL_READBASIC_APP = GraphPermission(
    "Channel.ReadBasic.All",
    APPLICATION,
    reads="Names and ids of channels in those teams.",
    stores="Channel ids and names.",
    why="To list the channels whose new messages are read.",
    why_store="To read new messages of the chosen channels until the admin changes them.",
)
CHANNEL_MESSAGE_READ_APP = GraphPermission(
    "ChannelMessage.Read.All",
    APPLICATION,
    reads="Messages posted since the last run in the channels of the tenant's teams: id, author id, "
    "mentions, time, and the text only where the feature needs it.",
    stores="Message id, author id, the ids of people mentioned and the time; no message text unless "
    "the feature needs it.",
    why="To link Teams conversations to the Jira issues and Confluence pages they talk about.",
    why_store="So the link between a message and its issue or page can be shown later.",
)
EXTERNAL_CONNECTION_APP = GraphPermission(
    "ExternalConnection.ReadWrite.OwnedBy",
    APPLICATION,
    reads="The Microsoft Search connection the portal created, and nothing else.",
    stores="The connection's id.",
    why="To create and maintain the Microsoft Search connection that holds Confluence content.",
    why_store="To update and remove the portal's own search connection later.",
)
EXTERNAL_ITEM_APP = GraphPermission(
    "ExternalItem.ReadWrite.OwnedBy",
    APPLICATION,
    reads="The items the portal itself put into that search connection.",
    stores="Nothing in the portal; the pages and who may see them are written to Microsoft Search.",
    why="To index Confluence pages with their permissions, so people find in Microsoft Search only "
    "what they may see in Confluence.",
    why_store="To update or delete an indexed page when it changes in Confluence.",
)


# Intune app protection for Atlassian's mobile apps (all app-only: the portal acts for the
# organization, in each tenant an admin of which consented).
DEVICE_MANAGEMENT_APPS_APP = GraphPermission(
    "DeviceManagementApps.ReadWrite.All",
    APPLICATION,
    reads="The Intune app protection policies the portal created for Jira Cloud and Confluence Cloud "
    "(their settings, targeted apps and assigned groups); whether the tenant has an Intune licence.",
    stores="Each policy's id, platform and the settings and groups chosen in the portal.",
    why="To create, target, assign, change and delete the iOS and Android app protection policies for "
    "Atlassian's mobile apps, as the organization's admin chooses in the portal.",
    why_store="To change or delete the same policies later, and to show where each tenant stands.",
)
APPLICATION_READ_APP = GraphPermission(
    "Application.Read.All",
    APPLICATION,
    reads="Whether the enterprise apps Jira Cloud by Atlassian and Confluence Cloud by Atlassian exist in "
    "the tenant: their object id, app id and name (only these two apps are asked for).",
    stores="The two apps' object ids and whether they are present.",
    why="To say whether someone already signed in from the mobile app (the enterprise app appears only then) "
    "and to find the apps' consent.",
    why_store="To show the consent state per tenant until it is checked again.",
)
DELEGATED_GRANT_READ_APP = GraphPermission(
    "DelegatedPermissionGrant.Read.All",
    APPLICATION,
    reads="The delegated permission grants of the two Atlassian enterprise apps (only theirs are asked for): "
    "whether a tenant-wide grant exists, and its scopes.",
    stores="Whether tenant-wide consent exists and its scopes.",
    why="To tell whether the tenant's admin has granted admin consent for Jira Cloud and Confluence Cloud.",
    why_store="To show the consent state per tenant until it is checked again.",
)
DOMAIN_READ_APP = GraphPermission(
    "Domain.Read.All",
    APPLICATION,
    reads="The tenant's domain names and whether each is verified.",
    stores="Which of the Atlassian organization's domains the tenant has verified.",
    why="To confirm that a domain the Atlassian organization verified belongs to this tenant.",
    why_store="To group the organization's domains by tenant (one consent covers a tenant's domains).",
)
GROUP_MEMBER_READ_APP = GraphPermission(
    "GroupMember.Read.All",
    APPLICATION,
    reads="Names and ids of the tenant's groups (not their members).",
    stores="The ids and names of the groups chosen for a policy.",
    why="So the admin can pick the groups an app protection policy is assigned to.",
    why_store="To assign the policy to the same groups when it is changed.",
)

# --- Atlassian scopes -------------------------------------------------------------------------

OFFLINE_ACCESS = AtlassianScope(
    "offline_access",
    reads="Nothing by itself.",
    why="Keeps access working without a person signed in (a refresh token).",
)
READ_JIRA_WORK = AtlassianScope(
    "read:jira-work", reads="Projects, issues and their fields.", why="To read issues and list projects."
)
READ_SERVICEDESK_REQUEST = AtlassianScope(
    "read:servicedesk-request",
    reads="Customer requests of service projects: their participants.",
    why="To add an incident's request participants to its Teams chat and meeting.",
)
WRITE_SERVICEDESK_REQUEST = AtlassianScope(
    "write:servicedesk-request",
    reads="Nothing; it adds internal notes (comments the customer does not see) to requests.",
    why="To add meeting links and Teams chat messages to an incident as internal notes.",
)
MANAGE_JIRA_WEBHOOK = AtlassianScope(
    "manage:jira-webhook",
    reads="The webhooks the portal itself registered: their filters and expiry dates.",
    why="To register, refresh and remove the Jira webhook that sends the chosen projects' issue events to the "
    "portal, for Teams notifications.",
)
READ_JIRA_USER = AtlassianScope(
    "read:jira-user",
    reads="Account ids, names and, where people allow it, email addresses.",
    why="To match Atlassian accounts with Microsoft 365 users.",
)
READ_SPACE_CONFLUENCE = AtlassianScope(
    "read:space:confluence", reads="Spaces: names, keys, ids.",
    why="To choose what to index, or which Confluence space notifies which Teams channel.",
)
SEARCH_CONFLUENCE = AtlassianScope(
    "search:confluence", reads="CQL search results.",
    why="To preview and apply the CQL filter, or to find the pages changed in a space that notifies a Teams channel.",
)
CONFLUENCE_SCOPES = (
    READ_SPACE_CONFLUENCE,
    AtlassianScope("read:page:confluence", reads="Pages and their content.", why="To index the pages."),
    AtlassianScope("read:blogpost:confluence", reads="Blog posts and their content.", why="To index the blog posts."),
    AtlassianScope(
        "read:content-details:confluence", reads="Content properties and labels.", why="To index page details."
    ),
    AtlassianScope(
        "read:permission:confluence",
        reads="Space permissions and page restrictions.",
        why="So search results respect who may see each page.",
    ),
    AtlassianScope("read:group:confluence", reads="Groups named in permissions.", why="To resolve group permissions."),
    AtlassianScope(
        "read:user:confluence", reads="Users named in permissions.", why="To map people to Microsoft 365 users."
    ),
    SEARCH_CONFLUENCE,
)

# Who posts Teams notifications (the consent page and the data-handling statement say it).
POSTS_AS_APP = (
    "Notifications are posted by the portal's Teams app (its bot, through the Bot Framework with the app's own "
    "token), never as a person: the message shows the app as its author. The admin who picks a channel signs in "
    "with Microsoft only to list their teams and channels and to add the app to the chosen team. Jira issue events "
    "reach the portal through a webhook it registers with the site's OAuth 2.0 authorization (the admin who "
    "authorized the site). Confluence Cloud documents no way for an OAuth 2.0 (3LO) app to register webhooks "
    "(Confluence events go to Connect and Forge apps only), so for a Confluence space the portal asks Confluence's "
    "search every few minutes for the pages changed since it last looked, with the same authorization."
)

# An Atlassian organization API key's scope (Atlassian Administration), for the Intune feature.
READ_DOMAINS_ADMIN = AtlassianScope(
    "read:domains:admin",
    reads="The organization's claimed domains and whether each is verified.",
    why="To find the Microsoft tenant of each verified domain: consent and policies are needed in each.",
)

# --- Features -------------------------------------------------------------------------------

FEATURES = {
    f.key: f
    for f in (
        Feature(
            "teams_notifications",
            "Teams notifications from Jira and Confluence",
            "Sends Jira and Confluence notifications to chosen Teams channels.",
            graph=(USER_READ, TEAM_READBASIC_DELEGATED, CHANNEL_READBASIC_DELEGATED, APP_IN_TEAM_DELEGATED,
                   APP_CATALOG_READ_DELEGATED),
            atlassian=(OFFLINE_ACCESS, READ_JIRA_WORK, MANAGE_JIRA_WEBHOOK, READ_SPACE_CONFLUENCE,
                       SEARCH_CONFLUENCE),
            products=("jira", "confluence"),
            posts=POSTS_AS_APP,
        ),
        Feature(
            "jsm_chatops",
            "Incident chats and meetings (Jira Service Management)",
            "Creates Teams chats and meetings for incidents, with the responders in them.",
            graph=(
                USER_READ,
                USER_READBASIC_ALL_DELEGATED,
                TEAM_READBASIC_DELEGATED,
                CHAT_CREATE_DELEGATED,
                CHATMEMBER_READWRITE_DELEGATED,
                ONLINE_MEETINGS_DELEGATED,
                APP_CATALOG_READ_DELEGATED,
                APP_IN_CHAT_DELEGATED,
                APP_FOR_USER_DELEGATED,
                CHAT_CREATE_APP,
                CHATMEMBER_READWRITE_APP,
                APP_IN_CHAT_APP,
                USER_READ_ALL_APP,
            ),
            atlassian=(
                OFFLINE_ACCESS, READ_JIRA_WORK, READ_JIRA_USER, READ_SERVICEDESK_REQUEST, WRITE_SERVICEDESK_REQUEST,
            ),
            products=("jsm",),
        ),
        Feature(
            "user_mapping",
            "User matching by email",
            "Pairs each Atlassian account with its Microsoft 365 user, by email address.",
            graph=(USER_READ, USER_READ_ALL_APP),
            atlassian=(OFFLINE_ACCESS, READ_JIRA_USER),
        ),
        Feature(
            "channel_knowledge",
            "Channel knowledge from Teams messages",
            "Reads new messages in chosen channels and links them to the issues and pages they mention.",
            graph=(USER_READ, TEAM_READBASIC_APP, CHANNEL_READBASIC_APP, CHANNEL_MESSAGE_READ_APP),
            atlassian=(OFFLINE_ACCESS, READ_JIRA_WORK),
        ),
        Feature(
            "confluence_search",
            "Confluence in Microsoft Search",
            "Indexes Confluence pages into Microsoft Search, with their permissions.",
            graph=(USER_READ, EXTERNAL_CONNECTION_APP, EXTERNAL_ITEM_APP),
            atlassian=(OFFLINE_ACCESS, *CONFLUENCE_SCOPES),
            products=("confluence",),
        ),
        Feature(
            "intune_mobile_policy",
            "Intune app protection for Jira and Confluence mobile apps",
            "Creates and manages the Intune app protection policies of Atlassian's mobile apps in the tenant, and "
            "checks the apps' admin consent.",
            graph=(USER_READ, DEVICE_MANAGEMENT_APPS_APP, APPLICATION_READ_APP, DELEGATED_GRANT_READ_APP,
                   DOMAIN_READ_APP, GROUP_MEMBER_READ_APP),
            products=("jira", "confluence"),
            atlassian_org=(READ_DOMAINS_ADMIN,),
        ),
    )
}

FEATURE_CHOICES = [(f.key, f.title) for f in FEATURES.values()]


def features(keys):
    return [FEATURES[k] for k in keys if k in FEATURES]


def graph_permissions(keys):
    """The Graph permissions the features need, each once, delegated first."""
    seen = {}
    for feature in features(keys):
        for permission in feature.graph:
            seen.setdefault((permission.kind, permission.name), permission)
    return sorted(seen.values(), key=lambda p: (p.kind != DELEGATED, p.name))


def delegated_scopes(keys):
    return [p.name for p in graph_permissions(keys) if p.kind == DELEGATED]


def needing_delegated_sign_in(keys):
    """The features that act as a signed-in admin (a delegated permission beyond the sign-in's
    own User.Read): they work only while an admin's delegated sign-in is stored."""
    return [f for f in features(keys) if any(p.kind == DELEGATED and p.name != USER_READ.name for p in f.graph)]


PRODUCT_NAMES = {"jira": "Jira", "confluence": "Confluence", "jsm": "Jira Service Management"}


def unfit_features(keys, products):
    """The features that need a product the site does not run (Jira Service Management runs on
    Jira, so it counts as Jira too). A site whose products are not known yet refuses nothing."""
    if not products:
        return []
    runs = set(products) | ({"jira"} if "jsm" in products else set())
    return [f for f in features(keys) if not runs & set(f.products)]


def unfit_in_words(feature, products):
    needs = " or ".join(PRODUCT_NAMES.get(p, p) for p in feature.products)
    runs = ", ".join(PRODUCT_NAMES.get(p, p) for p in products) or "nothing known"
    return f"{feature.title} needs {needs}, and the site runs {runs}"


def all_application_permissions():
    """Every application permission of the portal's app registration: Microsoft's admin-consent
    screen lists all of them (the app's static permissions, asked for with /.default), whatever
    one connection's features need."""
    return application_permissions(list(FEATURES))


def application_permissions(keys):
    return [p.name for p in graph_permissions(keys) if p.kind == APPLICATION]


def atlassian_scopes(keys):
    """The Atlassian scopes the features need, each once, offline_access last."""
    names = {s.name for feature in features(keys) for s in feature.atlassian}
    return sorted(names, key=lambda n: (n == "offline_access", n))


def consent_screen_note(requested_application):
    """What Microsoft's admin-consent screen will list beyond what this connection uses: every
    application permission of the portal's app registration (admin consent asks for /.default)."""
    if not requested_application:
        return {"consent_screen_lists": [], "consent_screen_unused": []}
    everything = all_application_permissions()
    return {
        "consent_screen_lists": everything,
        "consent_screen_unused": [name for name in everything if name not in requested_application],
    }
